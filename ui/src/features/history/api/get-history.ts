import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../../lib/api-client';
import type { HistoryResponse } from '../../../lib/api-types';
import { queryKeys, type HistoryFilters } from '../../../lib/query-keys';

export const HISTORY_PAGE_SIZE = 50;

export const getHistory = (filters: HistoryFilters, pageSize: number, signal?: AbortSignal) =>
  apiGet<HistoryResponse>(
    '/api/v1/monitoring/history',
    {
      task_name: filters.taskName,
      status: filters.status,
      start_date: filters.startDate,
      end_date: filters.endDate,
      q: filters.q,
      error_group: filters.errorGroup,
      service: filters.service,
      environment: filters.environment,
      page: filters.page,
      page_size: pageSize,
    },
    signal,
  );

export const historyQueryOptions = (filters: HistoryFilters, pageSize = HISTORY_PAGE_SIZE) =>
  queryOptions({
    queryKey: queryKeys.history(filters, pageSize),
    queryFn: ({ signal }) => getHistory(filters, pageSize, signal),
    placeholderData: keepPreviousData,
  });

export const useHistory = (filters: HistoryFilters, pageSize = HISTORY_PAGE_SIZE) =>
  useQuery(historyQueryOptions(filters, pageSize));
