import type { TaskStatus } from '../lib/api-types';

/** A run's status as a word on a coloured badge: the colour is never the only signal. */
export function StatusBadge({ status }: { status: TaskStatus | string }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}
