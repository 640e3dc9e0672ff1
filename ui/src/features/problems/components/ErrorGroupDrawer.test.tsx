import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { ErrorGroupDetail } from '../../../lib/api-types';
import { errorGroupItem, errorsPage, historyItem, installFakeApi } from '../../../testing/fake-api';
import { renderWithProviders } from '../../../testing/render';
import { ErrorGroupDrawer } from './ErrorGroupDrawer';

const ERRORS = '/api/v1/monitoring/errors';
const GROUP = '/api/v1/monitoring/errors/12';
const STATE = '/api/v1/monitoring/errors/12/state';
const TRACEBACK = 'Traceback (most recent call last):\n  File "mail.py", line 9\n<script>alert(1)</script>\nValueError: bad address';

function group(overrides: Partial<ErrorGroupDetail> = {}): ErrorGroupDetail {
  return {
    id: 12,
    task_name: 'send_email',
    service: null,
    environment: null,
    error_type: 'ValueError',
    message: 'bad address',
    traceback: TRACEBACK,
    total: 10,
    first_seen: '2026-11-20T08:00:00Z',
    last_seen: '2026-11-28T11:30:00Z',
    state: 'open',
    regression: false,
    state_changed_at: '2026-11-20T08:00:00Z',
    latest_runs: [
      historyItem({ id: 31, task_id: 'mail-31', task_name: 'send_email', status: 'failed', attempt: 2 }),
      historyItem({ id: 30, task_id: 'mail-30', task_name: 'send_email', status: 'failed' }),
    ],
    ...overrides,
  };
}

function setUp(current = group()) {
  let state = current;
  return installFakeApi({
    [ERRORS]: () => errorsPage([errorGroupItem({ id: 12, state: state.state, is_new: true })]),
    [GROUP]: () => state,
    [STATE]: (_url, request) => {
      state = { ...state, state: (request.body as { state: ErrorGroupDetail['state'] }).state, state_changed_at: '2026-11-28T12:00:00Z' };
      // As the API does: the changed group, without its runs.
      return { ...state, latest_runs: [] };
    },
  });
}

describe('ErrorGroupDrawer', () => {
  it('shows the traceback as text, the sparkline, the latest runs and the history link', async () => {
    window.history.replaceState(null, '', '/monitoring?group=12&status=success');
    setUp();
    renderWithProviders(<ErrorGroupDrawer />);
    const drawer = await screen.findByRole('dialog', { name: 'ValueError in send_email' });
    expect(within(drawer).getByTestId('group-traceback').textContent).toBe(TRACEBACK);
    expect(document.querySelector('script')).toBeNull();
    expect(within(drawer).getByTestId('group-state')).toHaveTextContent('open');
    expect(await within(drawer).findByRole('img', { name: '3 failures over the last 24 h' })).toBeInTheDocument();
    expect(within(drawer).getByTestId('group-new')).toBeInTheDocument();

    const runs = within(within(drawer).getByTestId('group-runs')).getAllByRole('listitem');
    expect(runs).toHaveLength(2);
    expect(runs[0]).toHaveTextContent('attempt 2');
    expect(within(runs[0]!).getByRole('link', { name: 'mail-31' })).toHaveAttribute('href', '/monitoring?group=12&status=success&run=31');

    const history = within(drawer).getByRole('link', { name: 'Show in history' });
    const href = new URL(history.getAttribute('href')!, 'http://localhost');
    expect(href.searchParams.get('error_group')).toBe('12');
    // The group's runs are all shown: the other history filters go, and so does the drawer.
    expect(href.searchParams.has('status')).toBe(false);
    expect(href.searchParams.has('group')).toBe(false);
    await userEvent.click(history);
    expect(window.location.search).toBe('?error_group=12');
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
  });

  it('resolves the group: posts {"state":"resolved"}, then shows it and refreshes the lists', async () => {
    window.history.replaceState(null, '', '/monitoring?group=12');
    const api = setUp();
    const user = userEvent.setup();
    renderWithProviders(<ErrorGroupDrawer />);
    const drawer = await screen.findByRole('dialog');
    await within(drawer).findByTestId('group-traceback');
    expect(within(drawer).queryByRole('button', { name: 'Reopen' })).toBeNull();
    const listFetches = api.calls(ERRORS).length;

    await user.click(within(drawer).getByRole('button', { name: 'Resolve' }));
    await waitFor(() => expect(within(drawer).getByTestId('group-state')).toHaveTextContent('resolved'));
    expect(api.sent(STATE)).toEqual([expect.objectContaining({ method: 'POST', body: { state: 'resolved' } })]);
    const post = (fetch as unknown as { mock: { calls: [string, RequestInit][] } }).mock.calls.find(([url]) => url.endsWith('/state'))!;
    expect((post[1].headers as Record<string, string>)['Content-Type']).toBe('application/json');
    await waitFor(() => expect(api.calls(ERRORS).length).toBeGreaterThan(listFetches));
    // The answer had no runs; the ones shown stay.
    expect(within(within(drawer).getByTestId('group-runs')).getAllByRole('listitem')).toHaveLength(2);
    expect(within(drawer).getByRole('button', { name: 'Reopen' })).toBeInTheDocument();
    expect(within(drawer).getByRole('button', { name: 'Ignore' })).toBeInTheDocument();

    await user.click(within(drawer).getByRole('button', { name: 'Reopen' }));
    await waitFor(() => expect(within(drawer).getByTestId('group-state')).toHaveTextContent('open'));
    expect(api.sent(STATE).map((request) => request.body)).toEqual([{ state: 'resolved' }, { state: 'open' }]);
  });

  it('says when a state change is refused', async () => {
    window.history.replaceState(null, '', '/monitoring?group=12');
    installFakeApi({
      [GROUP]: () => group(),
      [STATE]: () => new Response(JSON.stringify({ error: 'unavailable', message: 'database unreachable', parameter: null }), { status: 503 }),
    });
    const user = userEvent.setup();
    renderWithProviders(<ErrorGroupDrawer />);
    await user.click(await screen.findByRole('button', { name: 'Ignore' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Could not change the state: The database is unavailable: database unreachable');
    expect(screen.getByTestId('group-state')).toHaveTextContent('open');
  });

  it('gives way to a run opened from it, comes back after, and closes on Escape', async () => {
    window.history.replaceState(null, '', '/monitoring?group=12');
    setUp();
    const user = userEvent.setup();
    renderWithProviders(<ErrorGroupDrawer />);
    await user.click(await screen.findByRole('link', { name: 'mail-30' }));
    expect(window.location.search).toBe('?group=12&run=30');
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    window.history.back();
    expect(await screen.findByRole('dialog', { name: 'ValueError in send_email' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /Close the error group/ })).toHaveFocus();
    await user.keyboard('{Escape}');
    expect(window.location.search).toBe('');
  });

  it("shows the group's service beside its name when the listed groups share the name, and asks for the page's scope", async () => {
    window.history.replaceState(null, '', '/monitoring?group=12&environment=prod');
    const api = installFakeApi({
      [ERRORS]: () =>
        errorsPage([
          errorGroupItem({ id: 12, service: 'shipping', environment: 'prod' }),
          errorGroupItem({ id: 13, service: 'billing', environment: 'prod' }),
        ]),
      [GROUP]: () => group({ service: 'shipping', environment: 'prod' }),
    });
    renderWithProviders(<ErrorGroupDrawer />);
    const drawer = await screen.findByRole('dialog', { name: 'ValueError in send_email (shipping)' });
    expect(within(drawer).getByTestId('task-type-qualifier')).toHaveTextContent('shipping');
    expect(within(drawer).getByText('Service').nextElementSibling).toHaveTextContent('shipping');
    expect(within(drawer).getByText('Environment').nextElementSibling).toHaveTextContent('prod');
    // The panel's list of the same window and scope: the item's failures come from it.
    expect(Object.fromEntries(api.calls(ERRORS)[0]!.searchParams)).toEqual({ time_window: '24', environment: 'prod' });
  });

  it('keeps the name bare when no other listed group shares it', async () => {
    window.history.replaceState(null, '', '/monitoring?group=12');
    installFakeApi({
      [ERRORS]: () => errorsPage([errorGroupItem({ id: 12, service: 'billing' }), errorGroupItem({ id: 14, task_name: 'score_message', service: 'shipping' })]),
      [GROUP]: () => group({ service: 'billing' }),
    });
    renderWithProviders(<ErrorGroupDrawer />);
    const drawer = await screen.findByRole('dialog', { name: 'ValueError in send_email' });
    await within(drawer).findByRole('img', { name: '3 failures over the last 24 h' });
    expect(within(drawer).queryByTestId('task-type-qualifier')).toBeNull();
    expect(within(drawer).getByText('Service').nextElementSibling).toHaveTextContent('billing');
    expect(within(drawer).getByText('Environment').nextElementSibling).toHaveTextContent('–');
  });

  it('says when the group does not exist', async () => {
    window.history.replaceState(null, '', '/monitoring?group=99');
    installFakeApi({});
    renderWithProviders(<ErrorGroupDrawer />);
    expect(await screen.findByText('Error group 99 does not exist.')).toBeInTheDocument();
  });
});
