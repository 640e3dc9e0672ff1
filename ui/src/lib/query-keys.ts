// Every query key of the page in one place, so the WebSocket can invalidate other features'
// data without importing them. Keys hold the service filter: two scopes never share a cache entry.
import type { TaskStatus } from './api-types';
import type { ServiceFilter } from './service-filter';

export interface FeedFilter extends ServiceFilter {
  taskName: string | null;
  status: TaskStatus | null;
}

export interface HistoryFilters extends ServiceFilter {
  taskName: string | null;
  status: TaskStatus | null;
  startDate: string | null;
  endDate: string | null;
  q: string | null;
  /** Only the runs of this error group. */
  errorGroup: number | null;
  page: number;
}

// Only the filter's two fields, whatever object carries them.
const scopeOf = ({ service, environment }: ServiceFilter): ServiceFilter => ({ service, environment });

export const queryKeys = {
  metricsAll: ['metrics'] as const,
  metrics: (windowHours: number, scope: ServiceFilter) => ['metrics', windowHours, scopeOf(scope)] as const,
  historyAll: ['history'] as const,
  history: (filters: HistoryFilters, pageSize: number) => ['history', filters, pageSize] as const,
  timeseriesAll: ['timeseries'] as const,
  timeseries: (windowHours: number, taskName: string | null, scope: ServiceFilter) =>
    ['timeseries', windowHours, taskName, scopeOf(scope)] as const,
  runAll: ['run'] as const,
  run: (id: number) => ['run', id] as const,
  taskNamesAll: ['task-names'] as const,
  taskNames: (scope: ServiceFilter) => ['task-names', scopeOf(scope)] as const,
  stuckAll: ['stuck'] as const,
  stuck: (scope: ServiceFilter) => ['stuck', scopeOf(scope)] as const,
  // The group lists and the groups share a prefix: one invalidation refreshes both.
  errorsAll: ['errors'] as const,
  errors: (windowHours: number, taskName: string | null, scope: ServiceFilter) =>
    ['errors', 'list', windowHours, taskName, scopeOf(scope)] as const,
  errorGroup: (id: number) => ['errors', 'group', id] as const,
  liveFeedAll: ['live-feed'] as const,
  liveFeed: (filter: FeedFilter) => ['live-feed', filter] as const,
};
