import { describe, expect, it } from 'vitest';
import type { StuckCount, TaskMetrics } from '../../lib/api-types';
import { errorGroupItem } from '../../testing/fake-api';
import { problemCounts, problemsOf, summarizeCard, throughputSeries } from './card-math';

const metrics = (overrides: Partial<TaskMetrics> = {}): TaskMetrics => ({
  task_name: 'extract_knowledge_from_messages',
  service: null,
  environment: null,
  total_executions: 150,
  pending: 5,
  running: 2,
  success: 140,
  failed: 3,
  avg_duration_ms: 1250.5,
  success_rate: 93.33,
  p50_duration_ms: 900,
  p95_duration_ms: 4321,
  p99_duration_ms: 9000,
  avg_queue_wait_ms: 12,
  p50_queue_wait_ms: 10,
  p95_queue_wait_ms: 40,
  p99_queue_wait_ms: 80,
  ...overrides,
});

describe('summarizeCard', () => {
  it('shows the counts, the success rate in percent and the durations', () => {
    const card = summarizeCard(metrics());
    expect(card.total).toBe('150');
    expect(card.counts).toEqual({ pending: '5', running: '2', success: '140', failed: '3' });
    expect(card.successRate).toBe('93.33 %');
    expect(card.avgDuration).toBe('1.25 s');
    expect(card.p95Duration).toBe('4.32 s');
    // 3 failed of 143 finished
    expect(card.failureShare).toBe('2.10 %');
    expect(card.health).toBe('warn');
  });

  it('formats p95 across units and shows a dash when there is none', () => {
    expect(summarizeCard(metrics({ p95_duration_ms: 87.4 })).p95Duration).toBe('87 ms');
    expect(summarizeCard(metrics({ p95_duration_ms: 0.25 })).p95Duration).toBe('0.25 ms');
    expect(summarizeCard(metrics({ p95_duration_ms: 95_000 })).p95Duration).toBe('1 min 35 s');
    expect(summarizeCard(metrics({ p95_duration_ms: null })).p95Duration).toBe('–');
  });

  it('has no success rate and no health verdict without finished runs', () => {
    const card = summarizeCard(
      metrics({ total_executions: 0, pending: 0, running: 0, success: 0, failed: 0, success_rate: 0, avg_duration_ms: null }),
    );
    expect(card.successRate).toBe('–');
    expect(card.avgDuration).toBe('–');
    expect(card.health).toBe('idle');
    const onlyRunning = summarizeCard(metrics({ total_executions: 4, pending: 1, running: 3, success: 0, failed: 0, success_rate: 0 }));
    expect(onlyRunning.successRate).toBe('0.00 %');
    expect(onlyRunning.health).toBe('idle');
  });

  it('groups thousands in counts', () => {
    expect(summarizeCard(metrics({ total_executions: 1_234_567 })).total).toBe('1,234,567');
  });
});

describe('throughputSeries', () => {
  it('counts finished runs per bucket of one task type and fills missing buckets with zero', () => {
    const point = (bucket: string, task_name: string, success: number, failed: number, service: string | null = null) => ({
      bucket,
      task_name,
      service,
      environment: null,
      pending: 7,
      running: 7,
      success,
      failed,
      p50_duration_ms: null,
      p95_duration_ms: null,
    });
    const series = throughputSeries(
      [
        point('2026-11-28T10:00:00Z', 'a', 2, 1),
        point('2026-11-28T10:00:00Z', 'b', 50, 50),
        point('2026-11-28T12:00:00Z', 'a', 4, 0),
        // The same name in another service is another task type.
        point('2026-11-28T12:00:00Z', 'a', 9, 9, 'billing'),
      ],
      { task_name: 'a', service: null, environment: null },
      '2026-11-28T10:30:00Z',
      '2026-11-28T13:30:00Z',
      3600,
    );
    expect(series).toEqual([3, 0, 4, 0]);
  });
});

describe('problemCounts', () => {
  const type = (task_name: string, service: string | null = null, environment: string | null = null) => ({ task_name, service, environment });

  it('counts open groups and stuck runs per task type, a null service or environment being its own', () => {
    const counts = problemCounts(
      [
        errorGroupItem({ id: 1, ...type('a', 'billing', 'prod') }),
        errorGroupItem({ id: 2, ...type('a', 'billing', 'prod') }),
        errorGroupItem({ id: 3, ...type('a', 'shipping', 'prod') }),
        errorGroupItem({ id: 4, ...type('a', 'shipping', 'prod'), state: 'resolved' }),
        errorGroupItem({ id: 5, ...type('a') }),
      ],
      [
        { ...type('a', 'shipping', 'prod'), count: 4 },
        { ...type('a', null, 'prod'), count: 1 },
      ],
    );
    expect(problemsOf(counts, type('a', 'billing', 'prod'))).toEqual({ openGroups: 2, stuckRuns: 0 });
    expect(problemsOf(counts, type('a', 'shipping', 'prod'))).toEqual({ openGroups: 1, stuckRuns: 4 });
    expect(problemsOf(counts, type('a'))).toEqual({ openGroups: 1, stuckRuns: 0 });
    expect(problemsOf(counts, type('a', null, 'prod'))).toEqual({ openGroups: 0, stuckRuns: 1 });
    expect(problemsOf(counts, type('b', 'billing', 'prod'))).toEqual({ openGroups: 0, stuckRuns: 0 });
  });

  it('knows nothing of a list not loaded, and takes a missing field (an older API) as null', () => {
    expect(problemsOf(problemCounts(undefined, undefined), type('a'))).toEqual({ openGroups: null, stuckRuns: null });
    const older = [{ task_name: 'a', count: 2 }] as unknown as StuckCount[];
    expect(problemsOf(problemCounts([], older), type('a'))).toEqual({ openGroups: 0, stuckRuns: 2 });
  });
});
