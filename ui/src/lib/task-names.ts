// The task names (for every feature's task filter) and the known services and environments (for
// the page's filter), from one request: names are narrowed by the page's filter, services and
// environments are all of them.
import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from './api-client';
import type { TaskNamesResponse } from './api-types';
import { queryKeys } from './query-keys';
import { serviceFilterParams, useServiceFilter, type ServiceFilter } from './service-filter';

export const getTaskNames = (scope: ServiceFilter, signal?: AbortSignal) =>
  apiGet<TaskNamesResponse>('/api/v1/monitoring/task-names', serviceFilterParams(scope), signal);

export const taskNamesQueryOptions = (scope: ServiceFilter) =>
  queryOptions({
    queryKey: queryKeys.taskNames(scope),
    queryFn: ({ signal }) => getTaskNames(scope, signal),
    staleTime: 60_000,
    // The selects keep their options while another scope's list loads.
    placeholderData: keepPreviousData,
  });

const useTaskNamesQuery = () => useQuery(taskNamesQueryOptions(useServiceFilter()));

export function useTaskNames(): string[] {
  return useTaskNamesQuery().data?.task_names ?? [];
}

export function useServiceChoices(): { services: string[]; environments: string[] } {
  const data = useTaskNamesQuery().data;
  return { services: data?.services ?? [], environments: data?.environments ?? [] };
}
