import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../../lib/api-client';
import type { TimeseriesResponse } from '../../../lib/api-types';
import { queryKeys } from '../../../lib/query-keys';

export const getTimeseries = (windowHours: number, taskName: string | null, signal?: AbortSignal) =>
  apiGet<TimeseriesResponse>(
    '/api/v1/monitoring/timeseries',
    { time_window: windowHours, task_name: taskName },
    signal,
  );

export const timeseriesQueryOptions = (windowHours: number, taskName: string | null) =>
  queryOptions({
    queryKey: queryKeys.timeseries(windowHours, taskName),
    queryFn: ({ signal }) => getTimeseries(windowHours, taskName, signal),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
  });

export const useTimeseries = (windowHours: number, taskName: string | null) =>
  useQuery(timeseriesQueryOptions(windowHours, taskName));
