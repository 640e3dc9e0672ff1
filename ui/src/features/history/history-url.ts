// The history filters as they live in the address bar.
import { isTaskStatus } from '../../lib/api-types';
import type { HistoryFilters } from '../../lib/query-keys';
import { serviceFilterFromSearch, type ServiceFilter } from '../../lib/service-filter';
import type { ParamUpdates } from '../../lib/url-state';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const ID = /^[1-9]\d{0,14}$/; // stays a safe integer

export function filtersFromSearch(search: URLSearchParams): HistoryFilters {
  const status = search.get('status');
  const from = search.get('from');
  const to = search.get('to');
  const page = Number.parseInt(search.get('page') ?? '1', 10);
  const errorGroup = search.get('error_group');
  return {
    taskName: search.get('task') || null,
    status: isTaskStatus(status) ? status : null,
    startDate: from && DATE.test(from) ? from : null,
    endDate: to && DATE.test(to) ? to : null,
    q: search.get('q')?.trim() || null,
    // A positive id, as the API takes; anything else is dropped rather than sent for a 400.
    errorGroup: errorGroup && ID.test(errorGroup) ? Number(errorGroup) : null,
    page: Number.isFinite(page) && page >= 1 ? page : 1,
    // The page's filter, not the history's own: set by the page's selects, kept by Clear.
    ...serviceFilterFromSearch(search),
  };
}

/** URL updates for changed filters; any filter change goes back to page 1. */
export function searchUpdates(changes: Partial<Omit<HistoryFilters, 'page' | keyof ServiceFilter>>): ParamUpdates {
  const updates: ParamUpdates = { page: null };
  if ('taskName' in changes) updates.task = changes.taskName;
  if ('status' in changes) updates.status = changes.status;
  if ('startDate' in changes) updates.from = changes.startDate;
  if ('endDate' in changes) updates.to = changes.endDate;
  if ('q' in changes) updates.q = changes.q;
  if ('errorGroup' in changes) updates.error_group = changes.errorGroup;
  return updates;
}
