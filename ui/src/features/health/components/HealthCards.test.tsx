import { act, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { setServiceFilter } from '../../../lib/service-filter';
import { errorGroupItem, errorsPage, installFakeApi, metricsItem } from '../../../testing/fake-api';
import { renderWithProviders } from '../../../testing/render';
import { HealthCards } from './HealthCards';

const stuckRun = (id: number, task_name: string, service: string | null = null, environment: string | null = null) => ({
  id, task_name, service, environment, task_id: `t-${id}`, attempt: 0, source: 'tasklens', status: 'running',
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
        by_task: [{ task_name: 'score_message', service: null, environment: null, count: 1 }],
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
    expect(Object.fromEntries(api.calls('/api/v1/monitoring/stuck')[0]!.searchParams)).toEqual({});
  });

  it('counts problems per task type: one task name in two services has two counts', async () => {
    const where = (service: string | null, environment: string | null = 'prod') => ({ service, environment });
    installFakeApi({
      '/api/v1/monitoring/metrics': () => ({
        time_window_hours: 24,
        generated_at: '2026-11-28T12:00:00Z',
        metrics: [
          metricsItem('send_email', where('billing')),
          metricsItem('send_email', where('shipping')),
          // Runs that did not say their service: a task type of its own, not a wildcard.
          metricsItem('send_email', where(null)),
          metricsItem('score_message', where('billing')),
        ],
      }),
      '/api/v1/monitoring/timeseries': () => timeseries,
      '/api/v1/monitoring/errors': () =>
        errorsPage([
          errorGroupItem({ id: 1, task_name: 'send_email', ...where('billing') }),
          errorGroupItem({ id: 2, task_name: 'send_email', ...where('billing'), error_type: 'KeyError' }),
          errorGroupItem({ id: 3, task_name: 'send_email', ...where('shipping') }),
          errorGroupItem({ id: 4, task_name: 'send_email', ...where(null) }),
          // Same name and service, another environment: no card of this page.
          errorGroupItem({ id: 5, task_name: 'send_email', ...where('billing', 'staging') }),
          errorGroupItem({ id: 6, task_name: 'score_message', ...where('shipping') }),
        ]),
      '/api/v1/monitoring/stuck': () => ({
        generated_at: '2026-11-28T12:00:00Z',
        total: 4,
        by_task: [
          { task_name: 'send_email', ...where('shipping'), count: 3 },
          { task_name: 'send_email', ...where('billing', 'staging'), count: 1 },
        ],
        runs: [stuckRun(7, 'send_email', 'shipping', 'prod')],
      }),
    });
    renderWithProviders(<HealthCards />);
    const card = async (name: string) => {
      const found = await screen.findByRole('article', { name: `Health of ${name}` });
      await within(found).findByTestId('stuck-runs');
      return [within(found).getByTestId('open-groups').textContent, within(found).getByTestId('stuck-runs').textContent];
    };
    expect(await card('send_email (billing)')).toEqual(['2 open error groups', '0 stuck runs']);
    expect(await card('send_email (shipping)')).toEqual(['1 open error group', '3 stuck runs']);
    expect(await card('send_email (no service)')).toEqual(['1 open error group', '0 stuck runs']);
    expect(await card('score_message')).toEqual(['0 open error groups', '0 stuck runs']);
    expect(screen.queryByTestId('problems-scope')).toBeNull();
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

  it("asks for the scope in the URL, problems included, and counts the scope's problems", async () => {
    window.history.replaceState(null, '', '/monitoring?service=billing&environment=prod');
    const billing = { service: 'billing', environment: 'prod' };
    const api = installFakeApi({
      '/api/v1/monitoring/metrics': () => ({ time_window_hours: 24, generated_at: '2026-11-28T12:00:00Z', metrics: [metricsItem('a', billing)] }),
      '/api/v1/monitoring/timeseries': () => timeseries,
      '/api/v1/monitoring/errors': () => errorsPage([errorGroupItem({ task_name: 'a', ...billing })]),
      '/api/v1/monitoring/stuck': () => ({
        generated_at: '2026-11-28T12:00:00Z',
        total: 2,
        by_task: [{ task_name: 'a', ...billing, count: 2 }],
        runs: [stuckRun(1, 'a', 'billing', 'prod'), stuckRun(2, 'a', 'billing', 'prod')],
      }),
    });
    renderWithProviders(<HealthCards />);
    const card = await screen.findByRole('article', { name: 'Health of a' });
    expect(await within(card).findByTestId('open-groups')).toHaveTextContent('1 open error group');
    expect(await within(card).findByTestId('stuck-runs')).toHaveTextContent('2 stuck runs');
    // The counts are this card's task type's: nothing to warn about.
    expect(within(card).queryByTestId('problems-scope')).toBeNull();
    expect(within(card).queryByText(/all services/)).toBeNull();
    for (const path of ['/api/v1/monitoring/metrics', '/api/v1/monitoring/timeseries', '/api/v1/monitoring/errors']) {
      expect(Object.fromEntries(api.calls(path)[0]!.searchParams)).toEqual({ time_window: '24', service: 'billing', environment: 'prod' });
    }
    expect(Object.fromEntries(api.calls('/api/v1/monitoring/stuck')[0]!.searchParams)).toEqual({ service: 'billing', environment: 'prod' });
  });

  it("says nothing of problems while their list is still the previous scope's", async () => {
    window.history.replaceState(null, '', '/monitoring?service=billing');
    let release: (() => void) | null = null;
    const held = (body: unknown) => {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          release = () => {
            controller.enqueue(new TextEncoder().encode(JSON.stringify(body)));
            controller.close();
          };
        },
      });
      return new Response(stream, { status: 200, headers: { 'content-type': 'application/json' } });
    };
    installFakeApi({
      '/api/v1/monitoring/metrics': (url) => ({
        time_window_hours: 24,
        generated_at: '2026-11-28T12:00:00Z',
        metrics: [metricsItem('a', { service: url.searchParams.get('service') })],
      }),
      '/api/v1/monitoring/timeseries': () => timeseries,
      '/api/v1/monitoring/errors': (url) => {
        const page = errorsPage([errorGroupItem({ task_name: 'a', service: url.searchParams.get('service') })]);
        return url.searchParams.get('service') === 'shipping' ? held(page) : page;
      },
    });
    renderWithProviders(<HealthCards />);
    const billing = await screen.findByRole('article', { name: 'Health of a' });
    expect(await within(billing).findByTestId('open-groups')).toHaveTextContent('1 open error group');

    act(() => setServiceFilter({ service: 'shipping' }));
    await vi.waitFor(() => expect(release).not.toBeNull());
    // The new scope's card is there; billing's groups would say "0 open error groups" of it.
    await vi.waitFor(() => expect(screen.getByRole('article', { name: 'Health of a' })).not.toBe(billing));
    const shipping = screen.getByRole('article', { name: 'Health of a' });
    expect(within(shipping).queryByTestId('open-groups')).toBeNull();
    act(() => release!());
    expect(await within(shipping).findByTestId('open-groups')).toHaveTextContent('1 open error group');
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
