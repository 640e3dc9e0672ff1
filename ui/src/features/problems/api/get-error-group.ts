import { queryOptions, useQuery } from '@tanstack/react-query';
import { ApiError, apiGet } from '../../../lib/api-client';
import type { ErrorGroupDetail } from '../../../lib/api-types';
import { queryKeys } from '../../../lib/query-keys';

export const getErrorGroup = (id: number, signal?: AbortSignal) =>
  apiGet<ErrorGroupDetail>(`/api/v1/monitoring/errors/${id}`, {}, signal);

export const errorGroupQueryOptions = (id: number) =>
  queryOptions({
    queryKey: queryKeys.errorGroup(id),
    queryFn: ({ signal }) => getErrorGroup(id, signal),
    retry: (failures, error) => !(error instanceof ApiError && error.status === 404) && failures < 2,
  });

export const useErrorGroup = (id: number) => useQuery(errorGroupQueryOptions(id));
