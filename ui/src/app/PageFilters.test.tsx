// The page's service and environment filters: kept in the URL, and sent with every read that
// takes them (the problems' reads included) and the socket's subscription.
import { act, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it } from 'vitest';
import { errorsPage, historyPage, installFakeApi, metricsItem, taskNamesAnswer } from '../testing/fake-api';
import { FakeWebSocket } from '../testing/fake-websocket';
import { renderWithProviders } from '../testing/render';
import { App } from './App';

const FILTERED = [
  '/api/v1/monitoring/metrics',
  '/api/v1/monitoring/history',
  '/api/v1/monitoring/timeseries',
  '/api/v1/monitoring/task-names',
  '/api/v1/monitoring/errors',
  '/api/v1/monitoring/stuck',
];

function setUpApi() {
  return installFakeApi({
    '/api/v1/monitoring/metrics': () => ({ time_window_hours: 24, generated_at: '2026-11-28T12:00:00Z', metrics: [metricsItem('send_email')] }),
    '/api/v1/monitoring/history': () => historyPage([]),
    '/api/v1/monitoring/timeseries': () => ({ granularity: 'hour', bucket_seconds: 3600, start: '2026-11-27T12:00:00Z', end: '2026-11-28T12:00:00Z', points: [] }),
    '/api/v1/monitoring/task-names': () =>
      taskNamesAnswer([{ task_name: 'send_email', service: 'billing', environment: 'prod' }], {
        services: ['billing', 'shipping'],
        environments: ['prod', 'staging'],
      }),
    '/api/v1/monitoring/errors': () => errorsPage([]),
    '/api/v1/monitoring/stuck': () => ({ generated_at: '2026-11-28T12:00:00Z', total: 0, by_task: [], runs: [] }),
  });
}

const scopeOf = (url: URL) => ({ service: url.searchParams.get('service'), environment: url.searchParams.get('environment') });
const lastSubscription = () => {
  const sent = FakeWebSocket.latest().sent.map((s) => JSON.parse(s) as Record<string, unknown>);
  return sent[sent.length - 1];
};
const serviceSelect = () => screen.getByLabelText('Service', { selector: '#page-service' });
const environmentSelect = () => screen.getByLabelText('Environment', { selector: '#page-environment' });

describe('the service and environment filters', () => {
  beforeEach(() => FakeWebSocket.reset());

  it('are read from the URL (a reload, a shared link) and reach every read that takes them, and the socket', async () => {
    window.history.replaceState(null, '', '/monitoring?service=billing&environment=prod');
    const api = setUpApi();
    renderWithProviders(<App />);
    act(() => FakeWebSocket.latest().serverOpen());
    await screen.findByRole('option', { name: 'shipping' });
    expect(serviceSelect()).toHaveValue('billing');
    expect(environmentSelect()).toHaveValue('prod');
    await screen.findByRole('article', { name: 'Health of send_email' });

    for (const path of FILTERED) {
      await waitFor(() => expect(api.calls(path).length).toBeGreaterThan(0));
      // The history twice: the panel and the live feed's recent runs.
      for (const url of api.calls(path)) expect(scopeOf(url)).toEqual({ service: 'billing', environment: 'prod' });
    }
    expect(lastSubscription()).toEqual({
      type: 'subscribe',
      task_names: null,
      statuses: null,
      services: ['billing'],
      environments: ['prod'],
    });
    // The problems panels are narrowed like the rest: no note says otherwise.
    expect(screen.queryByText(/not narrowed by the service filter/)).toBeNull();
  });

  it('are written to the URL by the selects; Back and Forward walk through them', async () => {
    window.history.replaceState(null, '', '/monitoring?page=3');
    const api = setUpApi();
    const user = userEvent.setup();
    renderWithProviders(<App />);
    act(() => FakeWebSocket.latest().serverOpen());
    await screen.findByRole('option', { name: 'shipping' });
    // Without a filter, nothing is sent and the page looks as before.
    for (const path of FILTERED) for (const url of api.calls(path)) expect(scopeOf(url)).toEqual({ service: null, environment: null });
    expect(screen.queryByText(/not narrowed by the service filter/)).toBeNull();

    await user.selectOptions(serviceSelect(), 'shipping');
    // A new scope starts the history at its first page.
    expect(window.location.search).toBe('?service=shipping');
    await user.selectOptions(environmentSelect(), 'staging');
    expect(window.location.search).toBe('?service=shipping&environment=staging');
    for (const path of FILTERED) {
      await waitFor(() =>
        expect(api.calls(path).some((url) => url.searchParams.get('service') === 'shipping' && url.searchParams.get('environment') === 'staging')).toBe(true),
      );
    }
    expect(lastSubscription()).toMatchObject({ services: ['shipping'], environments: ['staging'] });

    act(() => window.history.back());
    await waitFor(() => expect(environmentSelect()).toHaveValue(''));
    expect(serviceSelect()).toHaveValue('shipping');
    expect(lastSubscription()).toMatchObject({ services: ['shipping'], environments: null });
    act(() => window.history.back());
    await waitFor(() => expect(serviceSelect()).toHaveValue(''));
    expect(window.location.search).toBe('?page=3');
    expect(lastSubscription()).toMatchObject({ services: null, environments: null });
    act(() => window.history.forward());
    await waitFor(() => expect(serviceSelect()).toHaveValue('shipping'));
    const metrics = api.calls('/api/v1/monitoring/metrics');
    expect(scopeOf(metrics[metrics.length - 1]!)).toEqual({ service: 'shipping', environment: null });

    // Choosing "All services" takes the parameter off the URL.
    await user.selectOptions(serviceSelect(), '');
    expect(window.location.search).toBe('');
  });
});
