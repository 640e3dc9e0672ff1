import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import type { ConnectionState, MonitoringSocket } from './ws-client';

const SocketContext = createContext<MonitoringSocket | null>(null);

export function SocketProvider({ socket, children }: { socket: MonitoringSocket; children: ReactNode }) {
  return <SocketContext.Provider value={socket}>{children}</SocketContext.Provider>;
}

export function useMonitoringSocket(): MonitoringSocket {
  const socket = useContext(SocketContext);
  if (!socket) throw new Error('useMonitoringSocket outside SocketProvider');
  return socket;
}

export function useConnectionState(): ConnectionState {
  const socket = useMonitoringSocket();
  const [state, setState] = useState(socket.getState());
  useEffect(() => {
    setState(socket.getState());
    return socket.onStateChange(setState);
  }, [socket]);
  return state;
}
