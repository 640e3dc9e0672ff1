import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../../lib/api-client';
import type { TimeseriesResponse } from '../../../lib/api-types';
import { queryKeys } from '../../../lib/query-keys';
import { serviceFilterParams, type ServiceFilter } from '../../../lib/service-filter';

// All task types at once: one request feeds every card's sparkline (the charts' key when they
// show all task types, so it is shared with them).
export const getThroughput = (windowHours: number, scope: ServiceFilter, signal?: AbortSignal) =>
  apiGet<TimeseriesResponse>(
    '/api/v1/monitoring/timeseries',
    { time_window: windowHours, ...serviceFilterParams(scope) },
    signal,
  );

export const throughputQueryOptions = (windowHours: number, scope: ServiceFilter) =>
  queryOptions({
    queryKey: queryKeys.timeseries(windowHours, null, scope),
    queryFn: ({ signal }) => getThroughput(windowHours, scope, signal),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
  });

export const useThroughput = (windowHours: number, scope: ServiceFilter) =>
  useQuery(throughputQueryOptions(windowHours, scope));
