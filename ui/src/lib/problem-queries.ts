// The stuck runs and the error groups of a window: shown by the Problems section and counted on
// the health cards. Both use these options, so TanStack Query fetches each once for both.
import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from './api-client';
import type { ErrorsResponse, StuckResponse } from './api-types';
import { queryKeys } from './query-keys';

export const getStuck = (signal?: AbortSignal) =>
  apiGet<StuckResponse>('/api/v1/monitoring/stuck', {}, signal);

export const stuckQueryOptions = () =>
  queryOptions({
    queryKey: queryKeys.stuck,
    queryFn: ({ signal }) => getStuck(signal),
    // A run becomes stuck by time passing, with no event to say so: ask again every half minute.
    refetchInterval: 30_000,
  });

export const useStuck = () => useQuery(stuckQueryOptions());

export const getErrors = (windowHours: number, taskName: string | null, signal?: AbortSignal) =>
  apiGet<ErrorsResponse>('/api/v1/monitoring/errors', { time_window: windowHours, task_name: taskName }, signal);

export const errorsQueryOptions = (windowHours: number, taskName: string | null = null) =>
  queryOptions({
    queryKey: queryKeys.errors(windowHours, taskName),
    queryFn: ({ signal }) => getErrors(windowHours, taskName, signal),
    placeholderData: keepPreviousData,
    // Failures and new groups come through the socket's invalidation; "new" also ages with
    // time alone, hence this fallback.
    refetchInterval: 60_000,
  });

export const useErrors = (windowHours: number, taskName: string | null = null) =>
  useQuery(errorsQueryOptions(windowHours, taskName));
