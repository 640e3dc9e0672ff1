import { QueryObserver } from '@tanstack/react-query';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { queryKeys } from '../../../lib/query-keys';
import { historyItem, historyPage, installFakeApi, statusChanged } from '../../../testing/fake-api';
import { FakeWebSocket } from '../../../testing/fake-websocket';
import { fakeSocket, testQueryClient } from '../../../testing/render';
import type { FeedItem } from '../feed-items';
import { recentRunsQueryOptions } from './get-recent-runs';
import { FEED_FLUSH_MS, connectLiveSync } from './use-live-sync';

const ALL = { taskName: null, status: null };
const FAILED_ONLY = { taskName: null, status: 'failed' as const };

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
