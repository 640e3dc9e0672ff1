// The stuck runs and the error groups of a window: shown by the Problems section and counted on
// the health cards. Both use these options, so TanStack Query fetches each once for both. Both
// are narrowed by the page's service filter, like the metrics.
import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from './api-client';
import type { ErrorsResponse, StuckResponse } from './api-types';
import { queryKeys } from './query-keys';
import { serviceFilterParams, type ServiceFilter } from './service-filter';

export const getStuck = (scope: ServiceFilter, signal?: AbortSignal) =>
  apiGet<StuckResponse>('/api/v1/monitoring/stuck', serviceFilterParams(scope), signal);

export const stuckQueryOptions = (scope: ServiceFilter) =>
  queryOptions({
    queryKey: queryKeys.stuck(scope),
    queryFn: ({ signal }) => getStuck(scope, signal),
    placeholderData: keepPreviousData,
    // A run becomes stuck by time passing, with no event to say so: ask again every half minute.
    refetchInterval: 30_000,
  });

export const useStuck = (scope: ServiceFilter) => useQuery(stuckQueryOptions(scope));

export const getErrors = (windowHours: number, taskName: string | null, scope: ServiceFilter, signal?: AbortSignal) =>
  apiGet<ErrorsResponse>(
    '/api/v1/monitoring/errors',
    { time_window: windowHours, task_name: taskName, ...serviceFilterParams(scope) },
    signal,
  );

export const errorsQueryOptions = (windowHours: number, scope: ServiceFilter, taskName: string | null = null) =>
  queryOptions({
    queryKey: queryKeys.errors(windowHours, taskName, scope),
    queryFn: ({ signal }) => getErrors(windowHours, taskName, scope, signal),
    placeholderData: keepPreviousData,
    // Failures and new groups come through the socket's invalidation; "new" also ages with
    // time alone, hence this fallback.
    refetchInterval: 60_000,
  });

export const useErrors = (windowHours: number, scope: ServiceFilter, taskName: string | null = null) =>
  useQuery(errorsQueryOptions(windowHours, scope, taskName));
