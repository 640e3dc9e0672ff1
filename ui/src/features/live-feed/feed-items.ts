// The live feed's entries and the pure rules that keep the feed bounded and filtered.
import type { HistoryItem, TaskStatus, TaskStatusChangedMessage } from '../../lib/api-types';
import type { FeedFilter } from '../../lib/query-keys';

/** Entries kept in the feed: memory stays flat however long the page stays open. */
export const FEED_BOUND = 200;

export interface FeedItem {
  /** Unique per status change of a run. */
  key: string;
  id: number;
  taskId: string;
  taskName: string;
  /** The worker's service and environment: with the name, the run's task type. */
  service: string | null;
  environment: string | null;
  status: TaskStatus;
  previousStatus: TaskStatus | null;
  /** When the change was committed. */
  timestamp: string;
  attempt: number;
  durationMs: number | null;
  errorMessage: string | null;
}

export function feedItemFromEvent(event: TaskStatusChangedMessage): FeedItem {
  return {
    key: `${event.data.id}:${event.status}:${event.timestamp}`,
    id: event.data.id,
    taskId: event.data.task_id,
    taskName: event.task_name,
    // Absent from an API older than services: none.
    service: event.data.service_name ?? null,
    environment: event.data.environment ?? null,
    status: event.status,
    previousStatus: event.data.previous_status,
    timestamp: event.timestamp,
    attempt: event.data.attempt,
    durationMs: event.data.duration_ms,
    errorMessage: event.data.error_message,
  };
}

export function feedItemFromHistory(item: HistoryItem): FeedItem {
  return {
    key: `${item.id}:${item.status}:${item.updated_at}`,
    id: item.id,
    taskId: item.task_id,
    taskName: item.task_name,
    service: item.service_name ?? null,
    environment: item.environment ?? null,
    status: item.status,
    previousStatus: null,
    timestamp: item.updated_at,
    attempt: item.attempt,
    durationMs: item.duration_ms,
    errorMessage: item.error_message,
  };
}

export function matchesFeedFilter(item: FeedItem, filter: FeedFilter): boolean {
  return (
    (filter.taskName === null || item.taskName === filter.taskName) &&
    (filter.status === null || item.status === filter.status) &&
    (filter.service === null || item.service === filter.service) &&
    (filter.environment === null || item.environment === filter.environment)
  );
}

/**
 * Puts `incoming` (oldest first, as they arrived) in front of `current` (newest first), drops
 * duplicates, and keeps the newest `bound` entries.
 */
export function prependBounded(
  current: readonly FeedItem[],
  incoming: readonly FeedItem[],
  bound: number = FEED_BOUND,
): FeedItem[] {
  const newestFirst: FeedItem[] = [];
  const seen = new Set<string>();
  for (let i = incoming.length - 1; i >= 0 && newestFirst.length < bound; i -= 1) {
    const item = incoming[i]!;
    if (seen.has(item.key)) continue;
    seen.add(item.key);
    newestFirst.push(item);
  }
  for (const item of current) {
    if (newestFirst.length >= bound) break;
    if (seen.has(item.key)) continue;
    seen.add(item.key);
    newestFirst.push(item);
  }
  return newestFirst;
}

/** How many entries of `current` are not in the paused `snapshot`. */
export function countNewSince(snapshot: readonly FeedItem[], current: readonly FeedItem[]): number {
  const shown = new Set(snapshot.map((item) => item.key));
  return current.reduce((count, item) => (shown.has(item.key) ? count : count + 1), 0);
}
