import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../../lib/api-client';
import type { TimeseriesResponse } from '../../../lib/api-types';
import { queryKeys } from '../../../lib/query-keys';
import { serviceFilterParams, type ServiceFilter } from '../../../lib/service-filter';

export const getTimeseries = (windowHours: number, taskName: string | null, scope: ServiceFilter, signal?: AbortSignal) =>
  apiGet<TimeseriesResponse>(
    '/api/v1/monitoring/timeseries',
    { time_window: windowHours, task_name: taskName, ...serviceFilterParams(scope) },
    signal,
  );

export const timeseriesQueryOptions = (windowHours: number, taskName: string | null, scope: ServiceFilter) =>
  queryOptions({
    queryKey: queryKeys.timeseries(windowHours, taskName, scope),
    queryFn: ({ signal }) => getTimeseries(windowHours, taskName, scope, signal),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
  });

export const useTimeseries = (windowHours: number, taskName: string | null, scope: ServiceFilter) =>
  useQuery(timeseriesQueryOptions(windowHours, taskName, scope));
