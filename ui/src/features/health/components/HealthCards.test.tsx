import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { errorGroupItem, errorsPage, installFakeApi, metricsItem } from '../../../testing/fake-api';
import { renderWithProviders } from '../../../testing/render';
import { HealthCards } from './HealthCards';

const stuckRun = (id: number, task_name: string) => ({
  id, task_name, task_id: `t-${id}`, attempt: 0, source: 'tasklens', status: 'running',
  since: '2026-11-28T11:20:00Z', age_ms: 2_400_000, threshold_ms: 300_000, threshold_source: 'floor',
});

const timeseries = { granularity: 'hour', bucket_seconds: 3600, start: '2026-11-27T12:00:00Z', end: '2026-11-28T12:00:00Z', points: [] };

describe('HealthCards', () => {
  it('renders one card per task type with its numbers, and asks for the chosen window', async () => {
    const api = installFakeApi({
      '/api/v1/monitoring/metrics': (url) => ({
        time_window_hours: Number(url.searchParams.get('time_window')),
        generated_at: '2026-11-28T12:00:00Z',
        metrics: [
          {
            task_name: 'score_message', total_executions: 10, pending: 1, running: 1, success: 7, failed: 1,
            avg_duration_ms: 250, success_rate: 70, p50_duration_ms: 200, p95_duration_ms: 1500, p99_duration_ms: 2000,
            avg_queue_wait_ms: null, p50_queue_wait_ms: null, p95_queue_wait_ms: null, p99_queue_wait_ms: null,
          },
        ],
      }),
      '/api/v1/monitoring/timeseries': () => timeseries,
    });
    renderWithProviders(<HealthCards />);
    const card = await screen.findByRole('article', { name: 'Health of score_message' });
    expect(within(card).getByTestId('success-rate')).toHaveTextContent('70.00 %');
    expect(within(card).getByTestId('p95-duration')).toHaveTextContent('1.50 s');
    expect(within(card).getByTestId('count-failed')).toHaveTextContent('1');
    expect(api.calls('/api/v1/monitoring/metrics')[0]?.searchParams.get('time_window')).toBe('24');

    await userEvent.click(screen.getByRole('button', { name: '7 d' }));
    expect(window.location.search).toBe('?window=168');
    await screen.findByText('Task health · last 7 d');
    expect(api.calls('/api/v1/monitoring/metrics').some((u) => u.searchParams.get('time_window') === '168')).toBe(true);
  });

  it('says when there are no runs in the window', async () => {
    installFakeApi({
      '/api/v1/monitoring/metrics': () => ({ time_window_hours: 24, generated_at: '2026-11-28T12:00:00Z', metrics: [] }),
      '/api/v1/monitoring/timeseries': () => timeseries,
    });
    renderWithProviders(<HealthCards />);
    expect(await screen.findByText(/No runs in the last 24 h/)).toBeInTheDocument();
  });

  it('shows the API error message', async () => {
    installFakeApi({});
    renderWithProviders(<HealthCards />);
    expect(await screen.findByRole('alert')).toHaveTextContent('Could not load task health');
  });

  it("counts each task type's open error groups and stuck runs", async () => {
    const api = installFakeApi({
      '/api/v1/monitoring/metrics': () => ({
        time_window_hours: 24,
        generated_at: '2026-11-28T12:00:00Z',
        metrics: [metricsItem('score_message'), metricsItem('send_email')],
      }),
      '/api/v1/monitoring/timeseries': () => timeseries,
      '/api/v1/monitoring/errors': () =>
        errorsPage([
          errorGroupItem({ id: 1, task_name: 'send_email' }),
          errorGroupItem({ id: 2, task_name: 'send_email', regression: true }),
          errorGroupItem({ id: 3, task_name: 'send_email', state: 'resolved' }),
          errorGroupItem({ id: 4, task_name: 'score_message', state: 'ignored' }),
        ]),
      '/api/v1/monitoring/stuck': () => ({
        generated_at: '2026-11-28T12:00:00Z',
        total: 1,
        by_task: [{ task_name: 'score_message', count: 1 }],
        runs: [stuckRun(7, 'score_message')],
      }),
    });
    renderWithProviders(<HealthCards />);
    const email = await screen.findByRole('article', { name: 'Health of send_email' });
    expect(await within(email).findByTestId('open-groups')).toHaveTextContent('2 open error groups');
    expect(await within(email).findByTestId('stuck-runs')).toHaveTextContent('0 stuck runs');
    const score = screen.getByRole('article', { name: 'Health of score_message' });
    expect(within(score).getByTestId('open-groups')).toHaveTextContent('0 open error groups');
    expect(within(score).getByTestId('stuck-runs')).toHaveTextContent('1 stuck run');
    // The page's window, with no task filter: the same question as the error groups panel's.
    expect(Object.fromEntries(api.calls('/api/v1/monitoring/errors')[0]!.searchParams)).toEqual({ time_window: '24' });
  });

  it('shows the service on the cards of a task name present in two services, with their own sparklines', async () => {
    const point = (service: string, success: number) => ({
      bucket: '2026-11-28T11:00:00Z', task_name: 'send_email', service, environment: 'prod',
      pending: 0, running: 0, success, failed: 0, p50_duration_ms: null, p95_duration_ms: null,
    });
    installFakeApi({
      '/api/v1/monitoring/metrics': () => ({
        time_window_hours: 24,
        generated_at: '2026-11-28T12:00:00Z',
        metrics: [
          metricsItem('score_message', { service: 'billing', environment: 'prod' }),
          metricsItem('send_email', { service: 'billing', environment: 'prod', success: 3 }),
          metricsItem('send_email', { service: 'shipping', environment: 'prod', success: 5 }),
        ],
      }),
      '/api/v1/monitoring/timeseries': () => ({ ...timeseries, points: [point('billing', 3), point('shipping', 5)] }),
    });
    renderWithProviders(<HealthCards />);
    const billing = await screen.findByRole('article', { name: 'Health of send_email (billing)' });
    const shipping = screen.getByRole('article', { name: 'Health of send_email (shipping)' });
    expect(within(billing).getByTestId('task-type-qualifier')).toHaveTextContent('billing');
    expect(within(shipping).getByTestId('task-type-qualifier')).toHaveTextContent('shipping');
    expect(within(billing).getByTestId('count-success')).toHaveTextContent('3');
    expect(within(shipping).getByTestId('count-success')).toHaveTextContent('5');
    // One environment for both: it would tell nothing, so it is not shown.
    expect(screen.queryByText(/prod/)).toBeNull();
    // A name in one service only stays bare.
    const score = screen.getByRole('article', { name: 'Health of score_message' });
    expect(within(score).queryByTestId('task-type-qualifier')).toBeNull();
    await vi.waitFor(() => expect(within(shipping).getByRole('img', { name: /finished runs/ })).toHaveAccessibleName('5 finished runs over the window'));
    expect(within(billing).getByRole('img', { name: /finished runs/ })).toHaveAccessibleName('3 finished runs over the window');
  });

  it('shows no service label when no task name collides', async () => {
    installFakeApi({
      '/api/v1/monitoring/metrics': () => ({
        time_window_hours: 24,
        generated_at: '2026-11-28T12:00:00Z',
        metrics: [metricsItem('score_message', { service: 'billing' }), metricsItem('send_email', { service: 'shipping' })],
      }),
      '/api/v1/monitoring/timeseries': () => timeseries,
    });
    renderWithProviders(<HealthCards />);
    await screen.findByRole('article', { name: 'Health of score_message' });
    expect(screen.getByRole('article', { name: 'Health of send_email' })).toBeInTheDocument();
    expect(screen.queryByTestId('task-type-qualifier')).toBeNull();
    expect(screen.queryByText(/billing|shipping/)).toBeNull();
  });

  it('asks for the scope in the URL, and says that problems are counted over every service', async () => {
    window.history.replaceState(null, '', '/monitoring?service=billing&environment=prod');
    const api = installFakeApi({
      '/api/v1/monitoring/metrics': () => ({ time_window_hours: 24, generated_at: '2026-11-28T12:00:00Z', metrics: [metricsItem('a', { service: 'billing', environment: 'prod' })] }),
      '/api/v1/monitoring/timeseries': () => timeseries,
      '/api/v1/monitoring/errors': () => errorsPage([errorGroupItem({ task_name: 'a' })]),
    });
    renderWithProviders(<HealthCards />);
    const card = await screen.findByRole('article', { name: 'Health of a' });
    expect(await within(card).findByTestId('open-groups')).toHaveTextContent('1 open error group');
    expect(within(card).getByTestId('problems-scope')).toHaveTextContent('all services');
    for (const path of ['/api/v1/monitoring/metrics', '/api/v1/monitoring/timeseries']) {
      expect(Object.fromEntries(api.calls(path)[0]!.searchParams)).toEqual({ time_window: '24', service: 'billing', environment: 'prod' });
    }
  });

  it('says nothing of problems it could not load', async () => {
    installFakeApi({
      '/api/v1/monitoring/metrics': () => ({ time_window_hours: 24, generated_at: '2026-11-28T12:00:00Z', metrics: [metricsItem('a')] }),
      '/api/v1/monitoring/timeseries': () => timeseries,
    });
    renderWithProviders(<HealthCards />);
    const card = await screen.findByRole('article', { name: 'Health of a' });
    expect(within(card).queryByTestId('open-groups')).toBeNull();
    expect(within(card).queryByTestId('stuck-runs')).toBeNull();
  });
});
