import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../../lib/api-client';
import type { TimeseriesResponse } from '../../../lib/api-types';
import { queryKeys } from '../../../lib/query-keys';

// All task types at once: one request feeds every card's sparkline.
export const getThroughput = (windowHours: number, signal?: AbortSignal) =>
  apiGet<TimeseriesResponse>('/api/v1/monitoring/timeseries', { time_window: windowHours }, signal);

export const throughputQueryOptions = (windowHours: number) =>
  queryOptions({
    queryKey: queryKeys.timeseries(windowHours, null),
    queryFn: ({ signal }) => getThroughput(windowHours, signal),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
  });

export const useThroughput = (windowHours: number) => useQuery(throughputQueryOptions(windowHours));
