// The page-level filter by the worker's service and environment (`?service=`, `?environment=`):
// a task type is a task name in one service and environment, so every read that can be narrowed
// by them is (metrics, history, timeseries, task names, the socket's subscription).
import { useMemo } from 'react';
import { updateSearch, useSearch, type ParamUpdates } from './url-state';

export interface ServiceFilter {
  service: string | null;
  environment: string | null;
}

export function serviceFilterFromSearch(search: URLSearchParams): ServiceFilter {
  return { service: search.get('service') || null, environment: search.get('environment') || null };
}

/** The filter in the URL; the same object while its values do not change (it is in query keys). */
export function useServiceFilter(): ServiceFilter {
  const { service, environment } = serviceFilterFromSearch(useSearch());
  return useMemo(() => ({ service, environment }), [service, environment]);
}

export const hasServiceFilter = (filter: ServiceFilter) => filter.service !== null || filter.environment !== null;

/** The API's query parameters (null ones are not sent). */
export const serviceFilterParams = (filter: ServiceFilter) => ({
  service: filter.service,
  environment: filter.environment,
});

/** URL updates for a changed filter: the history's page goes back to 1, as on its own filters. */
export function serviceFilterUpdates(changes: Partial<ServiceFilter>): ParamUpdates {
  const updates: ParamUpdates = { page: null };
  if ('service' in changes) updates.service = changes.service;
  if ('environment' in changes) updates.environment = changes.environment;
  return updates;
}

export const setServiceFilter = (changes: Partial<ServiceFilter>) => updateSearch(serviceFilterUpdates(changes));
