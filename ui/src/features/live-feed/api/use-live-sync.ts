// Feeds the WebSocket into TanStack Query's cache (the only store): status changes are prepended
// to the live feed's data and make the aggregates stale (at most once a second, and once more a
// second after the last change, past the API's read cache); failures and new error groups make
// the error groups stale, throttled the same way; a resync or a reconnection invalidates
// everything, which refetches the feed's recent runs from the history. Other messages (a type
// this page does not know yet, say) are ignored.
import { useQueryClient, type QueryClient, type QueryKey } from '@tanstack/react-query';
import { useEffect } from 'react';
import type { TaskStatusChangedMessage } from '../../../lib/api-types';
import { queryKeys, type FeedFilter } from '../../../lib/query-keys';
import { useMonitoringSocket } from '../../../lib/socket-context';
import { refreshAfterChanges } from '../../../lib/refresh-after-changes';
import type { MonitoringSocket } from '../../../lib/ws-client';
import {
  FEED_BOUND,
  feedItemFromEvent, matchesFeedFilter, prependBounded, type FeedItem } from '../feed-items';

export const AGGREGATE_REFRESH_MS = 1000;
export const FEED_FLUSH_MS = 100;

function feedFilterOf(key: QueryKey): FeedFilter {
  const filter = key[1] as Partial<FeedFilter> | undefined;
  return {
    taskName: filter?.taskName ?? null,
    status: filter?.status ?? null,
    service: filter?.service ?? null,
    environment: filter?.environment ?? null,
  };
}

/** Connects `socket` to `queryClient`; returns the disconnection. Pure wiring, testable alone. */
export function connectLiveSync(queryClient: QueryClient, socket: MonitoringSocket): () => void {
  // Events arriving close together are applied together (one cache write and render per
  // FEED_FLUSH_MS at most); the waiting list never holds more than the feed can show.
  let pending: TaskStatusChangedMessage[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  const flush = () => {
    flushTimer = null;
    const events = pending;
    pending = [];
    const items = events.map(feedItemFromEvent);
    for (const [key, data] of queryClient.getQueriesData<FeedItem[]>({ queryKey: queryKeys.liveFeedAll })) {
      if (!data) continue; // Its first fetch is under way and will include these runs.
      const filter = feedFilterOf(key);
      const matching = items.filter((item) => matchesFeedFilter(item, filter));
      if (matching.length > 0) queryClient.setQueryData<FeedItem[]>(key, prependBounded(data, matching));
    }
  };
  const scheduleFlush = () => {
    if (flushTimer === null) flushTimer = setTimeout(flush, FEED_FLUSH_MS);
  };

  const refreshAggregates = refreshAfterChanges(() => {
    void queryClient.invalidateQueries({ queryKey: queryKeys.metricsAll });
    void queryClient.invalidateQueries({ queryKey: queryKeys.historyAll });
    void queryClient.invalidateQueries({ queryKey: queryKeys.timeseriesAll });
    void queryClient.invalidateQueries({ queryKey: queryKeys.runAll });
  }, AGGREGATE_REFRESH_MS);

  // Only failures change the error groups (a count, a new group, a resolved one reopening).
  const refreshErrors = refreshAfterChanges(() => {
    void queryClient.invalidateQueries({ queryKey: queryKeys.errorsAll });
  }, AGGREGATE_REFRESH_MS);

  const refetchEverything = () => {
    refreshAggregates.cancel();
    refreshErrors.cancel();
    void queryClient.invalidateQueries();
  };

  const offMessage = socket.onMessage((message) => {
    switch (message.type) {
      case 'task_status_changed':
        pending.push(message);
        if (pending.length > FEED_BOUND) pending = pending.slice(-FEED_BOUND);
        scheduleFlush();
        refreshAggregates();
        if (message.status === 'failed') refreshErrors();
        break;
      case 'error_group_created':
        // The new group shows up (marked new) without a reload.
        refreshErrors();
        break;
      case 'resync':
        pending = [];
        refetchEverything();
        break;
      default:
        break;
    }
  });
  const offReconnect = socket.onReconnect(refetchEverything);
  return () => {
    offMessage();
    offReconnect();
    refreshAggregates.cancel();
    refreshErrors.cancel();
    if (flushTimer !== null) clearTimeout(flushTimer);
  };
}

export function useLiveSync(): void {
  const queryClient = useQueryClient();
  const socket = useMonitoringSocket();
  useEffect(() => connectLiveSync(queryClient, socket), [queryClient, socket]);
}
