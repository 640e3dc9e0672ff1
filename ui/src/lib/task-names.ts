// The list of task types, used by every feature's filter.
import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from './api-client';
import type { TaskNamesResponse } from './api-types';
import { queryKeys } from './query-keys';

export const getTaskNames = (signal?: AbortSignal) =>
  apiGet<TaskNamesResponse>('/api/v1/monitoring/task-names', {}, signal);

export const taskNamesQueryOptions = () =>
  queryOptions({
    queryKey: queryKeys.taskNames,
    queryFn: ({ signal }) => getTaskNames(signal),
    staleTime: 60_000,
  });

export function useTaskNames(): string[] {
  return useQuery(taskNamesQueryOptions()).data?.task_names ?? [];
}
