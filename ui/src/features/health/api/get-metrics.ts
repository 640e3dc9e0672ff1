import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../../lib/api-client';
import type { MetricsResponse } from '../../../lib/api-types';
import { queryKeys } from '../../../lib/query-keys';
import { serviceFilterParams, type ServiceFilter } from '../../../lib/service-filter';

export const getMetrics = (windowHours: number, scope: ServiceFilter, signal?: AbortSignal) =>
  apiGet<MetricsResponse>(
    '/api/v1/monitoring/metrics',
    { time_window: windowHours, ...serviceFilterParams(scope) },
    signal,
  );

export const metricsQueryOptions = (windowHours: number, scope: ServiceFilter) =>
  queryOptions({
    queryKey: queryKeys.metrics(windowHours, scope),
    queryFn: ({ signal }) => getMetrics(windowHours, scope, signal),
    placeholderData: keepPreviousData,
    // Live updates come through the socket's invalidation; this is the fallback.
    refetchInterval: 60_000,
  });

export const useMetrics = (windowHours: number, scope: ServiceFilter) => useQuery(metricsQueryOptions(windowHours, scope));
