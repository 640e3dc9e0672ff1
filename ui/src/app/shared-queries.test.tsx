// The Problems section and the health cards show the same lists: asked for once, not per feature.
import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ErrorGroups } from '../features/problems/components/ErrorGroups';
import { HealthCards } from '../features/health/components/HealthCards';
import { StuckRuns } from '../features/problems/components/StuckRuns';
import { errorGroupItem, errorsPage, installFakeApi } from '../testing/fake-api';
import { renderWithProviders } from '../testing/render';

describe('the Problems section and the health cards', () => {
  it.each([
    ['no filter', '/monitoring?window=1', { time_window: '1' }, {}],
    [
      'a service filter',
      '/monitoring?window=1&service=billing&environment=prod',
      { time_window: '1', service: 'billing', environment: 'prod' },
      { service: 'billing', environment: 'prod' },
    ],
  ])('share one request for the error groups and one for the stuck runs (%s)', async (_case, url, errorsParams, stuckParams) => {
    window.history.replaceState(null, '', url);
    const api = installFakeApi({
      '/api/v1/monitoring/metrics': () => ({
        time_window_hours: 1,
        generated_at: '2026-11-28T12:00:00Z',
        metrics: [
          {
            task_name: 'send_email', total_executions: 1, pending: 0, running: 0, success: 0, failed: 1,
            avg_duration_ms: 10, success_rate: 0, p50_duration_ms: 10, p95_duration_ms: 10, p99_duration_ms: 10,
            avg_queue_wait_ms: null, p50_queue_wait_ms: null, p95_queue_wait_ms: null, p99_queue_wait_ms: null,
          },
        ],
      }),
      '/api/v1/monitoring/timeseries': () => ({ granularity: 'minute', bucket_seconds: 60, start: '2026-11-28T11:00:00Z', end: '2026-11-28T12:00:00Z', points: [] }),
      '/api/v1/monitoring/errors': () => errorsPage([errorGroupItem({ task_name: 'send_email' })], 1),
      '/api/v1/monitoring/stuck': () => ({ generated_at: '2026-11-28T12:00:00Z', total: 0, by_task: [], runs: [] }),
    });
    renderWithProviders(
      <>
        <StuckRuns />
        <ErrorGroups />
        <HealthCards />
      </>,
    );
    const card = await screen.findByRole('article', { name: 'Health of send_email' });
    expect(await within(card).findByTestId('open-groups')).toHaveTextContent('1 open error group');
    expect(await within(card).findByTestId('stuck-runs')).toHaveTextContent('0 stuck runs');
    await screen.findByRole('table', { name: 'Error groups' });
    await screen.findByText(/No stuck runs/);
    expect(api.calls('/api/v1/monitoring/errors')).toHaveLength(1);
    expect(Object.fromEntries(api.calls('/api/v1/monitoring/errors')[0]!.searchParams)).toEqual(errorsParams);
    expect(api.calls('/api/v1/monitoring/stuck')).toHaveLength(1);
    expect(Object.fromEntries(api.calls('/api/v1/monitoring/stuck')[0]!.searchParams)).toEqual(stuckParams);
  });
});
