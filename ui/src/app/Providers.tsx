import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { ApiError, apiWebSocketUrl } from '../lib/api-client';
import { SocketProvider } from '../lib/socket-context';
import { MonitoringSocket } from '../lib/ws-client';

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        // A 4xx will not change by asking again; network errors and 5xx get two more tries.
        retry: (failures, error) =>
          !(error instanceof ApiError && error.status >= 400 && error.status < 500) && failures < 2,
        refetchOnWindowFocus: true,
      },
    },
  });
}

export function createMonitoringSocket(): MonitoringSocket {
  return new MonitoringSocket({ url: () => apiWebSocketUrl('/api/v1/monitoring/ws') });
}

export function Providers({
  children,
  queryClient,
  socket,
}: {
  children: ReactNode;
  queryClient?: QueryClient;
  socket?: MonitoringSocket;
}) {
  const [client] = useState(() => queryClient ?? createQueryClient());
  const [monitoringSocket] = useState(() => socket ?? createMonitoringSocket());
  useEffect(() => {
    monitoringSocket.start();
    return () => monitoringSocket.stop();
  }, [monitoringSocket]);
  return (
    <QueryClientProvider client={client}>
      <SocketProvider socket={monitoringSocket}>{children}</SocketProvider>
    </QueryClientProvider>
  );
}
