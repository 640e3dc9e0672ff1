import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { installFakeApi } from '../../../testing/fake-api';
import { renderWithProviders } from '../../../testing/render';
import { StuckRuns } from './StuckRuns';

const STUCK = '/api/v1/monitoring/stuck';

const run = (id: number, overrides: Record<string, unknown> = {}) => ({
  id,
  task_name: 'score_message',
  service: null,
  environment: null,
  task_id: `t-${id}`,
  attempt: 0,
  source: 'tasklens',
  status: 'running',
  since: '2026-11-28T11:20:00Z',
  age_ms: 40 * 60_000,
  threshold_ms: 300_000,
  threshold_source: 'floor',
  ...overrides,
});

const stuckAnswer = (runs: ReturnType<typeof run>[], total = runs.length) => {
  const byTask = new Map<string, { task_name: string; service: unknown; environment: unknown; count: number }>();
  for (const r of runs) {
    const key = JSON.stringify([r.task_name, r.service, r.environment]);
    const entry = byTask.get(key) ?? { task_name: r.task_name, service: r.service, environment: r.environment, count: 0 };
    entry.count += 1;
    byTask.set(key, entry);
  }
  return { generated_at: '2026-11-28T12:00:00Z', total, by_task: [...byTask.values()], runs };
};

describe('StuckRuns', () => {
  it('lists stuck runs with their age against the threshold and opens one', async () => {
    const api = installFakeApi({
      [STUCK]: () =>
        stuckAnswer([
          run(7),
          run(9, { task_name: 'scheduled_daily_digest', status: 'pending', age_ms: 16 * 60_000, threshold_ms: 900_000, threshold_source: 'configured' }),
        ]),
    });
    renderWithProviders(<StuckRuns />);
    const table = await screen.findByRole('table', { name: 'Stuck runs' });
    // No page filter: every service's stuck runs, and no service label where no name collides.
    expect(Object.fromEntries(api.calls(STUCK)[0]!.searchParams)).toEqual({});
    expect(within(table).queryByTestId('task-type-qualifier')).toBeNull();
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows).toHaveLength(2);
    expect(within(rows[0]!).getByTestId('stuck-age')).toHaveTextContent('40 min 0 s');
    expect(rows[0]).toHaveTextContent('5 min 0 s');
    expect(rows[0]).toHaveTextContent('the 5-minute floor');
    expect(rows[1]).toHaveTextContent('set by --stuck-threshold');
    expect(screen.getByRole('heading', { name: 'Problems · stuck runs (2)' })).toBeInTheDocument();
    expect(screen.queryByTestId('stuck-listed')).not.toBeInTheDocument();

    await userEvent.click(within(rows[1]!).getByRole('button', { name: 'scheduled_daily_digest' }));
    expect(new URLSearchParams(window.location.search).get('run')).toBe('9');
  });

  it("asks for the page's service and environment, and says no more that it is unfiltered", async () => {
    window.history.replaceState(null, '', '/monitoring?service=billing&environment=prod');
    const api = installFakeApi({ [STUCK]: () => stuckAnswer([run(7, { service: 'billing', environment: 'prod' })]) });
    const { queryClient } = renderWithProviders(<StuckRuns />);
    await screen.findByRole('table', { name: 'Stuck runs' });
    expect(Object.fromEntries(api.calls(STUCK)[0]!.searchParams)).toEqual({ service: 'billing', environment: 'prod' });
    expect(queryClient.getQueryCache().findAll({ queryKey: ['stuck'] }).map((query) => query.queryKey)).toEqual([
      ['stuck', { service: 'billing', environment: 'prod' }],
    ]);
    expect(screen.queryByText(/not narrowed/)).toBeNull();
  });

  it('shows the service beside a task name stuck in two services', async () => {
    installFakeApi({
      [STUCK]: () =>
        stuckAnswer([
          run(1, { task_name: 'send_email', service: 'billing', environment: 'prod' }),
          run(2, { task_name: 'send_email', service: 'shipping', environment: 'prod' }),
          run(3, { task_name: 'score_message', service: 'billing', environment: 'prod' }),
        ]),
    });
    renderWithProviders(<StuckRuns />);
    const table = await screen.findByRole('table', { name: 'Stuck runs' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((row) => within(row).queryByTestId('task-type-qualifier')?.textContent ?? null)).toEqual(['billing', 'shipping', null]);
    await userEvent.click(within(rows[1]!).getByRole('button', { name: 'send_email shipping' }));
    expect(new URLSearchParams(window.location.search).get('run')).toBe('2');
  });

  it('counts every stuck run and says when only the oldest are listed', async () => {
    installFakeApi({
      [STUCK]: () => ({
        generated_at: '2026-11-28T12:00:00Z',
        total: 240,
        by_task: [{ task_name: 'score_message', service: null, environment: null, count: 240 }],
        runs: [run(1), run(2)],
      }),
    });
    renderWithProviders(<StuckRuns />);
    const table = await screen.findByRole('table', { name: 'Stuck runs' });
    expect(within(table).getAllByRole('row').slice(1)).toHaveLength(2);
    expect(screen.getByRole('heading', { name: 'Problems · stuck runs (240)' })).toBeInTheDocument();
    expect(screen.getByTestId('stuck-listed')).toHaveTextContent('The oldest 2 of 240 stuck runs.');
  });

  it('says when nothing is stuck', async () => {
    installFakeApi({
      [STUCK]: () => ({ generated_at: '2026-11-28T12:00:00Z', total: 0, by_task: [], runs: [] }),
    });
    renderWithProviders(<StuckRuns />);
    expect(await screen.findByText(/No stuck runs/)).toBeInTheDocument();
  });

  it('shows the API error', async () => {
    installFakeApi({});
    renderWithProviders(<StuckRuns />);
    expect(await screen.findByRole('alert')).toHaveTextContent('Could not load stuck runs');
  });
});
