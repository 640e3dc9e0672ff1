import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiGet } from '../../../lib/api-client';
import type { StuckResponse } from '../../../lib/api-types';
import { queryKeys } from '../../../lib/query-keys';

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
