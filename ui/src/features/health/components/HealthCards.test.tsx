import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { installFakeApi } from '../../../testing/fake-api';
import { renderWithProviders } from '../../../testing/render';
import { HealthCards } from './HealthCards';

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
});
