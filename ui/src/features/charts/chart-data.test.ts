import { describe, expect, it } from 'vitest';
import type { TimeseriesResponse } from '../../lib/api-types';
import { chartBuckets, chartTaskTypes } from './chart-data';

const series: TimeseriesResponse = {
  granularity: 'hour',
  bucket_seconds: 3600,
  start: '2026-11-28T10:00:00Z',
  end: '2026-11-28T13:30:00Z',
  points: [
    { bucket: '2026-11-28T10:00:00Z', task_name: 'a', service: null, environment: null, pending: 1, running: 0, success: 5, failed: 1, p50_duration_ms: 100, p95_duration_ms: 900 },
    { bucket: '2026-11-28T10:00:00Z', task_name: 'b', service: null, environment: null, pending: 0, running: 2, success: 3, failed: 0, p50_duration_ms: 300, p95_duration_ms: 400 },
    { bucket: '2026-11-28T12:00:00Z', task_name: 'b', service: null, environment: null, pending: 0, running: 0, success: 1, failed: 0, p50_duration_ms: null, p95_duration_ms: null },
  ],
};

describe('chartBuckets', () => {
  it('sums the counts of all task types per bucket and fills the buckets without runs', () => {
    const buckets = chartBuckets(series, null);
    expect(buckets.map((b) => [b.pending, b.running, b.success, b.failed])).toEqual([
      [1, 2, 8, 1],
      [0, 0, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 0],
    ]);
    // Percentiles of different task types cannot be merged: the slowest type's is shown.
    expect(buckets[0]).toMatchObject({ p50: 300, p95: 900 });
    expect(buckets[1]).toMatchObject({ p50: null, p95: null });
    expect(buckets[2]).toMatchObject({ p50: null, p95: null });
  });

  it('keeps only the chosen task type', () => {
    const buckets = chartBuckets(series, 'a');
    expect(buckets[0]).toMatchObject({ success: 5, failed: 1, p50: 100, p95: 900 });
    expect(buckets[2]).toMatchObject({ success: 0 });
  });
});

describe('chartTaskTypes', () => {
  it('counts the task types a chart adds up: one name in two services is two', () => {
    const point = series.points[0]!;
    const twoServices: TimeseriesResponse = {
      ...series,
      points: [...series.points, { ...point, service: 'billing' }, { ...point, bucket: '2026-11-28T12:00:00Z' }],
    };
    expect(chartTaskTypes(twoServices, 'a')).toBe(2);
    expect(chartTaskTypes(twoServices, 'b')).toBe(1);
    expect(chartTaskTypes(twoServices, null)).toBe(3);
  });
});
