// The feed's starting point (and what it refetches after a resync or reconnection): the newest
// runs from the history, as feed entries. The WebSocket then prepends changes to this query's data.
import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../../lib/api-client';
import type { HistoryResponse } from '../../../lib/api-types';
import { queryKeys, type FeedFilter } from '../../../lib/query-keys';
import { serviceFilterParams } from '../../../lib/service-filter';
import { feedItemFromHistory, type FeedItem } from '../feed-items';

const RECENT_RUNS = 50;

export async function getRecentRuns(filter: FeedFilter, signal?: AbortSignal): Promise<FeedItem[]> {
  const page = await apiGet<HistoryResponse>(
    '/api/v1/monitoring/history',
    { task_name: filter.taskName, status: filter.status, ...serviceFilterParams(filter), page: 1, page_size: RECENT_RUNS },
    signal,
  );
  return page.items.map(feedItemFromHistory);
}

export const recentRunsQueryOptions = (filter: FeedFilter) =>
  queryOptions({
    queryKey: queryKeys.liveFeed(filter),
    queryFn: ({ signal }) => getRecentRuns(filter, signal),
    // The socket keeps it current; it is refetched only when invalidated.
    staleTime: Infinity,
  });

export const useRecentRuns = (filter: FeedFilter) => useQuery(recentRunsQueryOptions(filter));
