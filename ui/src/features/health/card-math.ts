// The arithmetic behind a health card, apart from rendering.
import type { ErrorGroupItem, StuckCount, TaskMetrics, TimeseriesPoint } from '../../lib/api-types';
import { formatCount, formatDuration, formatPercent } from '../../lib/format';
import { sameTaskType, taskTypeKey, type TaskType } from '../../lib/task-types';

export interface CardSummary {
  total: string;
  counts: { pending: string; running: string; success: string; failed: string };
  /** The API's success rate (successes over all runs of the window, in percent). */
  successRate: string;
  /** Share of finished runs that failed, to tell "slow" from "broken" at a glance. */
  failureShare: string;
  avgDuration: string;
  p95Duration: string;
  health: 'good' | 'warn' | 'bad' | 'idle';
}

export function summarizeCard(metrics: TaskMetrics): CardSummary {
  const finished = metrics.success + metrics.failed;
  const failureShare = finished === 0 ? null : (metrics.failed / finished) * 100;
  let health: CardSummary['health'] = 'idle';
  if (failureShare !== null) health = failureShare === 0 ? 'good' : failureShare < 5 ? 'warn' : 'bad';
  return {
    total: formatCount(metrics.total_executions),
    counts: {
      pending: formatCount(metrics.pending),
      running: formatCount(metrics.running),
      success: formatCount(metrics.success),
      failed: formatCount(metrics.failed),
    },
    successRate: metrics.total_executions === 0 ? formatPercent(null) : formatPercent(metrics.success_rate),
    failureShare: formatPercent(failureShare),
    avgDuration: formatDuration(metrics.avg_duration_ms),
    p95Duration: formatDuration(metrics.p95_duration_ms),
    health,
  };
}

/**
 * Finished runs (success + failed) per bucket for one task type (name, service and
 * environment), from `start` to `end`, with zeros for the buckets the API leaves out (no runs).
 */
export function throughputSeries(
  points: readonly TimeseriesPoint[],
  taskType: TaskType,
  start: string,
  end: string,
  bucketSeconds: number,
): number[] {
  const startMs = Date.parse(start);
  const endMs = Date.parse(end);
  const bucketMs = bucketSeconds * 1000;
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || bucketMs <= 0 || endMs <= startMs) return [];
  const firstBucket = Math.floor(startMs / bucketMs) * bucketMs;
  const length = Math.min(2000, Math.ceil((endMs - firstBucket) / bucketMs));
  const series = new Array<number>(length).fill(0);
  for (const point of points) {
    if (!sameTaskType(point, taskType)) continue;
    const index = Math.floor((Date.parse(point.bucket) - firstBucket) / bucketMs);
    if (index >= 0 && index < length) series[index] = (series[index] ?? 0) + point.success + point.failed;
  }
  return series;
}

/**
 * Per task type (by `taskTypeKey`: name, service and environment, a null one being its own
 * "unknown"): its open error groups of the window and its stuck runs (absent: none).
 */
export interface ProblemCounts {
  openGroups: ReadonlyMap<string, number> | null;
  stuckRuns: ReadonlyMap<string, number> | null;
}

/**
 * Null for a list not (yet) loaded: the card then says nothing rather than a wrong 0. Stuck runs
 * are counted by the API (`by_task`, one entry per task type), which lists only the oldest of them.
 */
export function problemCounts(
  groups: readonly ErrorGroupItem[] | undefined,
  stuck: readonly StuckCount[] | undefined,
): ProblemCounts {
  const add = (counts: Map<string, number>, type: TaskType, count: number) =>
    counts.set(taskTypeKey(type), (counts.get(taskTypeKey(type)) ?? 0) + count);
  let openGroups: Map<string, number> | null = null;
  if (groups) {
    openGroups = new Map();
    for (const group of groups) if (group.state === 'open') add(openGroups, group, 1);
  }
  let stuckRuns: Map<string, number> | null = null;
  if (stuck) {
    stuckRuns = new Map();
    for (const count of stuck) add(stuckRuns, count, count.count);
  }
  return { openGroups, stuckRuns };
}

/** One card's counts: null when the list is not known, else 0 when the type has none. */
export function problemsOf(
  counts: ProblemCounts,
  type: TaskType,
): { openGroups: number | null; stuckRuns: number | null } {
  const key = taskTypeKey(type);
  return {
    openGroups: counts.openGroups ? (counts.openGroups.get(key) ?? 0) : null,
    stuckRuns: counts.stuckRuns ? (counts.stuckRuns.get(key) ?? 0) : null,
  };
}
