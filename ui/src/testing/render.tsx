import { QueryClient } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { Providers } from '../app/Providers';
import { MonitoringSocket } from '../lib/ws-client';
import { FakeWebSocket } from './fake-websocket';

export function testQueryClient(): QueryClient {
  return new QueryClient({ defaultOptions: { queries: { retry: false, gcTime: Infinity } } });
}

export function fakeSocket(): MonitoringSocket {
  return new MonitoringSocket({
    url: () => 'ws://localhost/api/v1/monitoring/ws',
    createSocket: (url) => new FakeWebSocket(url),
    backoff: { initialMs: 1000, maxMs: 30_000, random: () => 0.5 },
    isOnline: () => true,
  });
}

export function renderWithProviders(ui: ReactElement, options: { queryClient?: QueryClient; socket?: MonitoringSocket } = {}) {
  const queryClient = options.queryClient ?? testQueryClient();
  const socket = options.socket ?? fakeSocket();
  const result = render(
    <Providers queryClient={queryClient} socket={socket}>
      {ui}
    </Providers>,
  );
  return { ...result, queryClient, socket };
}
