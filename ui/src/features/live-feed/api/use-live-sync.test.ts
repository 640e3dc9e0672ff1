import { QueryObserver } from '@tanstack/react-query';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { queryKeys } from '../../../lib/query-keys';
import { errorsQueryOptions } from '../../../lib/problem-queries';
import { errorGroupItem, errorsPage, historyItem, historyPage, installFakeApi, statusChanged } from '../../../testing/fake-api';
import { FakeWebSocket } from '../../../testing/fake-websocket';
import { fakeSocket, testQueryClient } from '../../../testing/render';
import type { ErrorGroupCreatedMessage } from '../../../lib/api-types';
import type { FeedItem } from '../feed-items';
import { recentRunsQueryOptions } from './get-recent-runs';
import { FEED_FLUSH_MS, connectLiveSync } from './use-live-sync';

const ALL = { taskName: null, status: null, service: null, environment: null };
const FAILED_ONLY = { taskName: null, status: 'failed' as const, service: null, environment: null };

describe('connectLiveSync', () => {
  beforeEach(() => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    FakeWebSocket.reset();
  });
  afterEach(() => vi.useRealTimers());

  async function setUp() {
    const api = installFakeApi({
      '/api/v1/monitoring/history': (url) =>
        historyPage(url.searchParams.get('status') === 'failed' ? [] : [historyItem({ id: 1 })]),
    });
    const queryClient = testQueryClient();
    const socket = fakeSocket();
    const disconnect = connectLiveSync(queryClient, socket);
    // Observed, as by the mounted feed: invalidation refetches only what is on screen.
    const observers = [ALL, FAILED_ONLY].map((filter) => new QueryObserver(queryClient, recentRunsQueryOptions(filter)));
    const unsubscribes = observers.map((observer) => observer.subscribe(() => undefined));
    await vi.waitFor(() => expect(observers.every((o) => o.getCurrentResult().isSuccess)).toBe(true));
    socket.start();
    FakeWebSocket.latest().serverOpen();
    return { api, queryClient, socket, disconnect: () => { disconnect(); unsubscribes.forEach((u) => u()); }, ws: () => FakeWebSocket.latest() };
  }

  it('prepends events to each feed that matches them, bounded at 200, newest first', async () => {
    const { queryClient, ws, disconnect } = await setUp();
    for (let i = 2; i <= 1001; i += 1) ws().serverSend(statusChanged(i, i % 2 ? 'failed' : 'success', 'a', i));
    vi.advanceTimersByTime(FEED_FLUSH_MS);
    const all = queryClient.getQueryData<FeedItem[]>(queryKeys.liveFeed(ALL))!;
    expect(all).toHaveLength(200);
    expect(all[0]?.id).toBe(1001);
    expect(all.map((item) => item.id)).toEqual(Array.from({ length: 200 }, (_, i) => 1001 - i));
    const failed = queryClient.getQueryData<FeedItem[]>(queryKeys.liveFeed(FAILED_ONLY))!;
    expect(failed.every((item) => item.status === 'failed')).toBe(true);
    expect(failed[0]?.id).toBe(1001);
    disconnect();
  });

  it('invalidates the aggregates at most once a second, and a second after the last event', async () => {
    const { queryClient, ws, disconnect } = await setUp();
    const invalidate = vi.spyOn(queryClient, 'invalidateQueries');
    const metricsInvalidations = () =>
      invalidate.mock.calls.filter(([filters]) => filters?.queryKey?.[0] === 'metrics').length;
    for (let i = 0; i < 100; i += 1) ws().serverSend(statusChanged(i, 'running'));
    expect(metricsInvalidations()).toBe(1);
    vi.advanceTimersByTime(500);
    for (let i = 100; i < 200; i += 1) ws().serverSend(statusChanged(i, 'running'));
    expect(metricsInvalidations()).toBe(1);
    vi.advanceTimersByTime(500);
    expect(metricsInvalidations()).toBe(2);
    // The API may have answered that from its read cache, older than the last events: once more.
    vi.advanceTimersByTime(1000);
    expect(metricsInvalidations()).toBe(3);
    vi.advanceTimersByTime(5000);
    expect(metricsInvalidations()).toBe(3);
    disconnect();
  });

  it('refetches the recent runs from the history on resync and after a reconnection', async () => {
    const { api, queryClient, ws, disconnect } = await setUp();
    const historyCalls = () => api.calls('/api/v1/monitoring/history').length;
    expect(historyCalls()).toBe(2);
    ws().serverSend(statusChanged(50, 'running'));
    vi.advanceTimersByTime(FEED_FLUSH_MS);
    expect(queryClient.getQueryData<FeedItem[]>(queryKeys.liveFeed(ALL))).toHaveLength(2);

    ws().serverSend({ type: 'resync', timestamp: '2026-11-28T12:00:00Z', data: { reason: 'slow_client' } });
    await vi.waitFor(() => expect(historyCalls()).toBe(4));
    // The refetched feed is the history's answer again.
    await vi.waitFor(() => expect(queryClient.getQueryData<FeedItem[]>(queryKeys.liveFeed(ALL))?.map((i) => i.id)).toEqual([1]));

    ws().serverClose();
    vi.advanceTimersByTime(1000);
    expect(historyCalls()).toBe(4);
    ws().serverOpen();
    await vi.waitFor(() => expect(historyCalls()).toBe(6));
    disconnect();
  });
});

describe('connectLiveSync and the error groups', () => {
  beforeEach(() => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    FakeWebSocket.reset();
  });
  afterEach(() => vi.useRealTimers());

  async function setUp() {
    let groups = [errorGroupItem({ id: 1 })];
    const api = installFakeApi({
      '/api/v1/monitoring/errors': () => errorsPage(groups),
      '/api/v1/monitoring/history': () => historyPage([]),
    });
    const queryClient = testQueryClient();
    const socket = fakeSocket();
    const disconnect = connectLiveSync(queryClient, socket);
    // Observed, as by the mounted panel.
    const observer = new QueryObserver(queryClient, errorsQueryOptions(24, { service: null, environment: null }));
    const unsubscribe = observer.subscribe(() => undefined);
    await vi.waitFor(() => expect(observer.getCurrentResult().isSuccess).toBe(true));
    socket.start();
    FakeWebSocket.latest().serverOpen();
    return {
      errorFetches: () => api.calls('/api/v1/monitoring/errors').length,
      addGroup: (group: ReturnType<typeof errorGroupItem>) => (groups = [group, ...groups]),
      observer,
      ws: () => FakeWebSocket.latest(),
      disconnect: () => {
        disconnect();
        unsubscribe();
      },
    };
  }

  const created: ErrorGroupCreatedMessage = {
    type: 'error_group_created',
    task_name: 'send_email',
    timestamp: '2026-11-28T12:00:00Z',
    data: { id: 2, error_type: 'ValueError', message: 'bad address', first_seen: '2026-11-28T12:00:00Z', service: null, environment: null },
  };

  it('refetches the groups when a new group is created, so it shows up marked new', async () => {
    const { errorFetches, addGroup, observer, ws, disconnect } = await setUp();
    expect(errorFetches()).toBe(1);
    addGroup(errorGroupItem({ id: 2, is_new: true }));
    ws().serverSend(created);
    await vi.waitFor(() => expect(observer.getCurrentResult().data?.groups.map((g) => g.id)).toEqual([2, 1]));
    expect(observer.getCurrentResult().data?.groups[0]?.is_new).toBe(true);
    disconnect();
  });

  it('refreshes the groups after failures, throttled like the aggregates, and not after other changes', async () => {
    const { errorFetches, ws, disconnect } = await setUp();
    for (let i = 0; i < 20; i += 1) ws().serverSend(statusChanged(i, 'success'));
    vi.advanceTimersByTime(5000);
    expect(errorFetches()).toBe(1);

    for (let i = 20; i < 70; i += 1) ws().serverSend(statusChanged(i, 'failed'));
    ws().serverSend(created);
    await vi.waitFor(() => expect(errorFetches()).toBe(2));
    // Once more a second later (the last change may not have been in that answer), then quiet.
    vi.advanceTimersByTime(1000);
    await vi.waitFor(() => expect(errorFetches()).toBe(3));
    vi.advanceTimersByTime(5000);
    expect(errorFetches()).toBe(3);
    disconnect();
  });

  it('ignores message types it does not know, and goes on after them', async () => {
    const { errorFetches, ws, disconnect } = await setUp();
    expect(() => ws().serverSend({ type: 'something_new', timestamp: '2026-11-28T12:00:00Z', data: { x: 1 } })).not.toThrow();
    ws().serverSend({ type: 'subscribed', timestamp: '2026-11-28T12:00:00Z', data: { task_names: null, statuses: null } });
    vi.advanceTimersByTime(5000);
    expect(errorFetches()).toBe(1);
    ws().serverSend(created);
    await vi.waitFor(() => expect(errorFetches()).toBe(2));
    disconnect();
  });
});
