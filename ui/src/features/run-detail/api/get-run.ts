import { queryOptions, useQuery } from '@tanstack/react-query';
import { ApiError, apiGet } from '../../../lib/api-client';
import type { TaskDetail } from '../../../lib/api-types';
import { queryKeys } from '../../../lib/query-keys';

export const getRun = (id: number, signal?: AbortSignal) =>
  apiGet<TaskDetail>(`/api/v1/monitoring/tasks/${id}`, {}, signal);

export const runQueryOptions = (id: number) =>
  queryOptions({
    queryKey: queryKeys.run(id),
    queryFn: ({ signal }) => getRun(id, signal),
    retry: (failures, error) => !(error instanceof ApiError && error.status === 404) && failures < 2,
  });

export const useRun = (id: number) => useQuery(runQueryOptions(id));
