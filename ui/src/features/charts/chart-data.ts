// Turns the timeseries answer into one row per bucket (gaps filled) for the charts.
import type { TimeseriesResponse } from '../../lib/api-types';
import { countTaskTypes } from '../../lib/task-types';

export interface ChartBucket {
  startMs: number;
  pending: number;
  running: number;
  success: number;
  failed: number;
  p50: number | null;
  p95: number | null;
}

/**
 * One bucket per `bucket_seconds` from start to end. For several task types together (all, or
 * one name in several services) the counts are summed; percentiles cannot be combined, so the
 * slowest type's p50/p95 of the bucket is shown.
 */
export function chartBuckets(series: TimeseriesResponse, taskName: string | null): ChartBucket[] {
  const bucketMs = series.bucket_seconds * 1000;
  const startMs = Date.parse(series.start);
  const endMs = Date.parse(series.end);
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || bucketMs <= 0 || endMs <= startMs) return [];
  const first = Math.floor(startMs / bucketMs) * bucketMs;
  const length = Math.min(2000, Math.ceil((endMs - first) / bucketMs));
  const buckets: ChartBucket[] = Array.from({ length }, (_, i) => ({
    startMs: first + i * bucketMs,
    pending: 0,
    running: 0,
    success: 0,
    failed: 0,
    p50: null,
    p95: null,
  }));
  const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
  for (const point of series.points) {
    if (taskName !== null && point.task_name !== taskName) continue;
    const bucket = buckets[Math.floor((Date.parse(point.bucket) - first) / bucketMs)];
    if (!bucket) continue;
    bucket.pending += point.pending;
    bucket.running += point.running;
    bucket.success += point.success;
    bucket.failed += point.failed;
    bucket.p50 = maxOf(bucket.p50, point.p50_duration_ms);
    bucket.p95 = maxOf(bucket.p95, point.p95_duration_ms);
  }
  return buckets;
}

/** How many task types (name, service, environment) the chart of `taskName` (null: all) adds up. */
export function chartTaskTypes(series: TimeseriesResponse, taskName: string | null): number {
  return countTaskTypes(taskName === null ? series.points : series.points.filter((p) => p.task_name === taskName));
}
