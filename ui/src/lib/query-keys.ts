// Every query key of the page in one place, so the WebSocket can invalidate other features'
// data without importing them.
import type { TaskStatus } from './api-types';

export interface FeedFilter {
  taskName: string | null;
  status: TaskStatus | null;
}

export interface HistoryFilters {
  taskName: string | null;
  status: TaskStatus | null;
  startDate: string | null;
  endDate: string | null;
  q: string | null;
  /** Only the runs of this error group. */
  errorGroup: number | null;
  page: number;
}

export const queryKeys = {
  metricsAll: ['metrics'] as const,
  metrics: (windowHours: number) => ['metrics', windowHours] as const,
  historyAll: ['history'] as const,
  history: (filters: HistoryFilters, pageSize: number) => ['history', filters, pageSize] as const,
  timeseriesAll: ['timeseries'] as const,
  timeseries: (windowHours: number, taskName: string | null) =>
    ['timeseries', windowHours, taskName] as const,
  runAll: ['run'] as const,
  run: (id: number) => ['run', id] as const,
  taskNames: ['task-names'] as const,
  stuck: ['stuck'] as const,
  // The group lists and the groups share a prefix: one invalidation refreshes both.
  errorsAll: ['errors'] as const,
  errors: (windowHours: number, taskName: string | null) => ['errors', 'list', windowHours, taskName] as const,
  errorGroup: (id: number) => ['errors', 'group', id] as const,
  liveFeedAll: ['live-feed'] as const,
  liveFeed: (filter: FeedFilter) => ['live-feed', filter] as const,
};
