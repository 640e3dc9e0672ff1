import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../../lib/api-client';
import type { MetricsResponse } from '../../../lib/api-types';
import { queryKeys } from '../../../lib/query-keys';

export const getMetrics = (windowHours: number, signal?: AbortSignal) =>
  apiGet<MetricsResponse>('/api/v1/monitoring/metrics', { time_window: windowHours }, signal);

export const metricsQueryOptions = (windowHours: number) =>
  queryOptions({
    queryKey: queryKeys.metrics(windowHours),
    queryFn: ({ signal }) => getMetrics(windowHours, signal),
    placeholderData: keepPreviousData,
    // Live updates come through the socket's invalidation; this is the fallback.
    refetchInterval: 60_000,
  });

export const useMetrics = (windowHours: number) => useQuery(metricsQueryOptions(windowHours));
