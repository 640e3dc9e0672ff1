// The monitoring WebSocket: reconnects by itself with exponential backoff and jitter, resends the
// current subscription on every connection, and tells listeners about messages, reconnections and
// its state. The WebSocket class is injected so tests can drive a fake one.
import type { ServerMessage, SubscribeMessage, TaskStatus } from './api-types';

export type ConnectionState =
  | { kind: 'connecting' }
  | { kind: 'connected' }
  | { kind: 'reconnecting'; retryAt: number; attempt: number }
  | { kind: 'offline' }
  | { kind: 'closed' };

export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Source of randomness in [0, 1), for the jitter. */
  random: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, random: Math.random };

/**
 * Delay before reconnection attempt `attempt` (0-based): exponential, capped, with "equal
 * jitter" (half fixed, half random) so that many clients dropped together do not return together.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + options.random() * (ceiling / 2));
}

/** The server-side filter; null means all, for each field. */
export interface Subscription {
  taskNames: string[] | null;
  statuses: TaskStatus[] | null;
  services: string[] | null;
  environments: string[] | null;
}

export interface MonitoringSocketOptions {
  url: () => string;
  createSocket?: WebSocketFactory;
  backoff?: BackoffOptions;
  /** Whether the browser believes it is online; offline skips attempts until 'online'. */
  isOnline?: () => boolean;
}

type Listener<T> = (value: T) => void;

const OPEN = 1;

export class MonitoringSocket {
  private socket: WebSocketLike | null = null;
  private state: ConnectionState = { kind: 'closed' };
  private attempt = 0;
  private hasConnectedBefore = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private subscription: Subscription = { taskNames: null, statuses: null, services: null, environments: null };
  private readonly messageListeners = new Set<Listener<ServerMessage>>();
  private readonly stateListeners = new Set<Listener<ConnectionState>>();
  private readonly reconnectListeners = new Set<Listener<void>>();
  private readonly createSocket: WebSocketFactory;
  private readonly backoff: BackoffOptions;
  private readonly isOnline: () => boolean;

  constructor(private readonly options: MonitoringSocketOptions) {
    this.createSocket = options.createSocket ?? ((url) => new WebSocket(url));
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.isOnline = options.isOnline ?? (() => typeof navigator === 'undefined' || navigator.onLine !== false);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (typeof window !== 'undefined') {
      window.addEventListener('online', this.handleOnline);
      window.addEventListener('offline', this.handleOffline);
    }
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this.handleOnline);
      window.removeEventListener('offline', this.handleOffline);
    }
    this.clearRetry();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, 'page closed');
    }
    this.setState({ kind: 'closed' });
  }

  getState(): ConnectionState {
    return this.state;
  }

  /** Sets the server-side filter; sent now when connected, and again after every reconnection. */
  subscribe(subscription: Subscription): void {
    this.subscription = subscription;
    this.sendSubscription();
  }

  onMessage(listener: Listener<ServerMessage>): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  onStateChange(listener: Listener<ConnectionState>): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Called when a connection opens after an earlier one was lost: events may have been missed. */
  onReconnect(listener: Listener<void>): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  private connect(): void {
    this.clearRetry();
    if (this.stopped) return;
    if (!this.isOnline()) {
      this.setState({ kind: 'offline' });
      return;
    }
    this.setState({ kind: 'connecting' });
    let socket: WebSocketLike;
    try {
      socket = this.createSocket(this.options.url());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.setState({ kind: 'connected' });
      this.sendSubscription();
      if (this.hasConnectedBefore) for (const listener of this.reconnectListeners) listener();
      this.hasConnectedBefore = true;
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket || typeof event.data !== 'string') return;
      let message: ServerMessage;
      try {
        message = JSON.parse(event.data) as ServerMessage;
      } catch {
        return;
      }
      if (typeof message !== 'object' || message === null || typeof message.type !== 'string') return;
      for (const listener of this.messageListeners) listener(message);
    };
    socket.onerror = () => {
      // A close event follows; the retry is scheduled there.
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      // Events may be lost from here on, even if the socket had never opened.
      this.hasConnectedBefore = true;
      this.scheduleRetry();
    };
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    if (!this.isOnline()) {
      this.setState({ kind: 'offline' });
      return;
    }
    const delay = backoffDelay(this.attempt, this.backoff);
    this.attempt += 1;
    this.setState({ kind: 'reconnecting', retryAt: Date.now() + delay, attempt: this.attempt });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private sendSubscription(): void {
    if (!this.socket || this.socket.readyState !== OPEN) return;
    const message: SubscribeMessage = {
      type: 'subscribe',
      task_names: this.subscription.taskNames,
      statuses: this.subscription.statuses,
      services: this.subscription.services,
      environments: this.subscription.environments,
    };
    this.socket.send(JSON.stringify(message));
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private readonly handleOnline = () => {
    if (this.stopped || this.socket) return;
    this.attempt = 0;
    this.connect();
  };

  private readonly handleOffline = () => {
    if (this.stopped || this.socket) return;
    this.clearRetry();
    this.setState({ kind: 'offline' });
  };
}
