import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeWebSocket } from '../testing/fake-websocket';
import { MonitoringSocket, backoffDelay, type ConnectionState } from './ws-client';

describe('backoffDelay', () => {
  it('doubles up to the cap, with jitter between half and all of the step', () => {
    const options = { initialMs: 500, maxMs: 30_000 };
    expect(backoffDelay(0, { ...options, random: () => 0 })).toBe(250);
    expect(backoffDelay(0, { ...options, random: () => 0.999999 })).toBe(500);
    expect(backoffDelay(3, { ...options, random: () => 0 })).toBe(2000);
    expect(backoffDelay(3, { ...options, random: () => 0.999999 })).toBe(4000);
    expect(backoffDelay(20, { ...options, random: () => 0.999999 })).toBe(30_000);
    expect(backoffDelay(1000, { ...options, random: () => 0 })).toBe(15_000);
  });
});

describe('MonitoringSocket', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeWebSocket.reset();
  });
  afterEach(() => vi.useRealTimers());

  const create = (online = () => true) =>
    new MonitoringSocket({
      url: () => 'ws://localhost/api/v1/monitoring/ws?token=t',
      createSocket: (url) => new FakeWebSocket(url),
      backoff: { initialMs: 1000, maxMs: 8000, random: () => 0.5 },
      isOnline: online,
    });

  it('reconnects by itself with growing delays and tells about each reconnection', () => {
    const socket = create();
    const states: ConnectionState['kind'][] = [];
    socket.onStateChange((state) => states.push(state.kind));
    const reconnects = vi.fn();
    socket.onReconnect(reconnects);
    socket.start();
    expect(FakeWebSocket.latest().url).toBe('ws://localhost/api/v1/monitoring/ws?token=t');
    FakeWebSocket.latest().serverOpen();
    expect(socket.getState().kind).toBe('connected');
    expect(reconnects).not.toHaveBeenCalled();

    // Lost: retries after 750 ms (attempt 0: 1000 ms ceiling, jitter 0.5), then 1500, 3000 ms.
    FakeWebSocket.latest().serverClose();
    const state = socket.getState();
    expect(state.kind).toBe('reconnecting');
    expect(state.kind === 'reconnecting' && state.retryAt - Date.now()).toBe(750);
    vi.advanceTimersByTime(749);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    FakeWebSocket.latest().serverClose();
    vi.advanceTimersByTime(1499);
    expect(FakeWebSocket.instances).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(3);
    FakeWebSocket.latest().serverClose();
    vi.advanceTimersByTime(3000);
    expect(FakeWebSocket.instances).toHaveLength(4);

    FakeWebSocket.latest().serverOpen();
    expect(reconnects).toHaveBeenCalledTimes(1);
    expect(states).toEqual([
      'connecting', 'connected',
      'reconnecting', 'connecting', 'reconnecting', 'connecting', 'reconnecting', 'connecting', 'connected',
    ]);

    // After a successful connection the delay starts small again.
    FakeWebSocket.latest().serverClose();
    vi.advanceTimersByTime(750);
    expect(FakeWebSocket.instances).toHaveLength(5);
    socket.stop();
  });

  it('sends the subscription on connect, on change, and again after a reconnection', () => {
    const socket = create();
    socket.subscribe({ taskNames: ['a'], statuses: null, services: ['billing'], environments: null });
    socket.start();
    FakeWebSocket.latest().serverOpen();
    expect(FakeWebSocket.latest().sent.map((s) => JSON.parse(s))).toEqual([
      { type: 'subscribe', task_names: ['a'], statuses: null, services: ['billing'], environments: null },
    ]);
    socket.subscribe({ taskNames: null, statuses: ['failed'], services: null, environments: ['prod'] });
    FakeWebSocket.latest().serverClose();
    vi.runOnlyPendingTimers();
    FakeWebSocket.latest().serverOpen();
    expect(FakeWebSocket.latest().sent.map((s) => JSON.parse(s))).toEqual([
      { type: 'subscribe', task_names: null, statuses: ['failed'], services: null, environments: ['prod'] },
    ]);
    socket.stop();
  });

  it('passes on parsed messages and ignores frames that are not JSON objects', () => {
    const socket = create();
    const messages = vi.fn();
    socket.onMessage(messages);
    socket.start();
    FakeWebSocket.latest().serverOpen();
    FakeWebSocket.latest().onmessage?.(new MessageEvent('message', { data: 'not json' }));
    FakeWebSocket.latest().onmessage?.(new MessageEvent('message', { data: '42' }));
    FakeWebSocket.latest().serverSend({ type: 'resync', timestamp: 't', data: { reason: 'slow_client' } });
    expect(messages).toHaveBeenCalledTimes(1);
    expect(messages.mock.calls[0]?.[0]).toMatchObject({ type: 'resync' });
    socket.stop();
  });

  it('waits while the browser is offline and connects when it comes back', () => {
    let online = false;
    const socket = create(() => online);
    socket.start();
    expect(socket.getState().kind).toBe('offline');
    expect(FakeWebSocket.instances).toHaveLength(0);
    online = true;
    window.dispatchEvent(new Event('online'));
    expect(FakeWebSocket.instances).toHaveLength(1);
    socket.stop();
    expect(socket.getState().kind).toBe('closed');
    vi.runAllTimers();
    expect(FakeWebSocket.instances).toHaveLength(1);
  });
});
