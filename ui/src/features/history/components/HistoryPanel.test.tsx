import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { historyItem, historyPage, installFakeApi } from '../../../testing/fake-api';
import { renderWithProviders } from '../../../testing/render';
import { HistoryPanel } from './HistoryPanel';

const HISTORY = '/api/v1/monitoring/history';

function setUpApi(overrides: Record<string, unknown> = {}) {
  return installFakeApi({
    [HISTORY]: (url) =>
      historyPage(
        [
          historyItem({ id: 11, task_name: 'score_message', status: 'failed', error_message: 'rate limited' }),
          historyItem({ id: 10, task_name: 'score_message' }),
        ].filter((item) => !url.searchParams.get('status') || item.status === url.searchParams.get('status')),
        overrides,
      ),
    '/api/v1/monitoring/task-names': () => ({ task_names: ['score_message', 'send_email'] }),
  });
}

const lastQuery = (api: ReturnType<typeof installFakeApi>) => {
  const calls = api.calls(HISTORY);
  return Object.fromEntries(calls[calls.length - 1]!.searchParams);
};

describe('HistoryPanel', () => {
  it('puts the filters in the URL, and Back restores the previous ones', async () => {
    const api = setUpApi();
    const user = userEvent.setup();
    renderWithProviders(<HistoryPanel />);
    await screen.findByText('rate limited');
    await screen.findByRole('option', { name: 'send_email' });

    await user.selectOptions(screen.getByLabelText('Status'), 'failed');
    expect(window.location.search).toBe('?status=failed');
    await user.selectOptions(screen.getByLabelText('Task type'), 'send_email');
    await user.type(screen.getByLabelText('Search'), 'rate limit{Enter}');
    expect(Object.fromEntries(new URLSearchParams(window.location.search))).toEqual({
      status: 'failed',
      task: 'send_email',
      q: 'rate limit',
    });
    await screen.findByText('1 matches');
    expect(lastQuery(api)).toMatchObject({ status: 'failed', task_name: 'send_email', q: 'rate limit', page: '1' });

    act(() => window.history.back());
    await waitFor(() => expect(window.location.search).toBe('?status=failed&task=send_email'));
    await waitFor(() => expect(screen.getByLabelText('Search')).toHaveValue(''));
    expect(screen.getByLabelText('Task type')).toHaveValue('send_email');
    act(() => window.history.back());
    await waitFor(() => expect(screen.getByLabelText('Task type')).toHaveValue(''));
    expect(screen.getByLabelText('Status')).toHaveValue('failed');
    await waitFor(() => expect(lastQuery(api)).toEqual({ status: 'failed', page: '1', page_size: '50' }));
  });

  it('restores every filter from the URL on load (a reload or a shared link)', async () => {
    window.history.replaceState(null, '', '/monitoring?task=send_email&status=failed&from=2026-11-01&to=2026-11-28&q=timeout&page=3');
    const api = setUpApi({ page: 3, total_pages: 5, total_count: 202 });
    renderWithProviders(<HistoryPanel />);
    await screen.findByText('202 matches');
    expect(lastQuery(api)).toEqual({
      task_name: 'send_email',
      status: 'failed',
      start_date: '2026-11-01',
      end_date: '2026-11-28',
      q: 'timeout',
      page: '3',
      page_size: '50',
    });
    expect(screen.getByLabelText('Task type')).toHaveValue('send_email');
    expect(screen.getByLabelText('Status')).toHaveValue('failed');
    expect(screen.getByLabelText('From')).toHaveValue('2026-11-01');
    expect(screen.getByLabelText('To (inclusive)')).toHaveValue('2026-11-28');
    expect(screen.getByLabelText('Search')).toHaveValue('timeout');
    expect(screen.getByText('Page 3 of 5')).toBeInTheDocument();
  });

  it('says "1000+ matches" when the count is a lower bound, and pages on while pages are full', async () => {
    installFakeApi({
      [HISTORY]: () => ({
        ...historyPage(Array.from({ length: 50 }, (_, i) => historyItem({ id: 100 - i }))),
        total_count: 1000,
        total_is_exact: false,
        total_pages: 20,
      }),
    });
    const user = userEvent.setup();
    renderWithProviders(<HistoryPanel />);
    expect(await screen.findByTestId('match-count')).toHaveTextContent('1000+ matches');
    expect(screen.getByText('Page 1')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Older →' }));
    expect(window.location.search).toBe('?page=2');
  });

  it('opens a run with Enter on a focused row', async () => {
    setUpApi();
    const user = userEvent.setup();
    renderWithProviders(<HistoryPanel />);
    await screen.findByText('rate limited');
    const rows = within(screen.getByRole('table')).getAllByRole('row').slice(1);
    await user.click(screen.getByLabelText('Search'));
    rows[0]!.focus();
    await user.keyboard('{ArrowDown}');
    expect(rows[1]).toHaveFocus();
    await user.keyboard('{Enter}');
    expect(new URLSearchParams(window.location.search).get('run')).toBe('10');
  });

  it('shows the service on the rows of a task name run in two services, and only there', async () => {
    installFakeApi({
      [HISTORY]: () =>
        historyPage([
          historyItem({ id: 3, task_name: 'send_email', service_name: 'billing', environment: 'prod' }),
          historyItem({ id: 2, task_name: 'send_email', service_name: 'shipping', environment: 'prod' }),
          historyItem({ id: 1, task_name: 'score_message', service_name: 'billing', environment: 'prod' }),
        ]),
    });
    renderWithProviders(<HistoryPanel />);
    const billing = await screen.findByRole('row', { name: /^send_email \(billing\) success/ });
    expect(within(billing).getByTestId('task-type-qualifier')).toHaveTextContent('billing');
    const shipping = screen.getByRole('row', { name: /^send_email \(shipping\) success/ });
    expect(within(shipping).getByTestId('task-type-qualifier')).toHaveTextContent('shipping');
    const score = screen.getByRole('row', { name: /^score_message success/ });
    expect(within(score).queryByTestId('task-type-qualifier')).toBeNull();
  });

  it('says when nothing matches', async () => {
    window.history.replaceState(null, '', '/monitoring?status=running');
    setUpApi();
    renderWithProviders(<HistoryPanel />);
    expect(await screen.findByText('No runs match these filters.')).toBeInTheDocument();
  });

  it("shows the API's message when it refuses a filter", async () => {
    installFakeApi({
      [HISTORY]: () =>
        new Response(
          JSON.stringify({ error: 'invalid_parameter', parameter: 'start_date', message: 'start_date must be an RFC 3339 time or a YYYY-MM-DD date, got "x"' }),
          { status: 400 },
        ),
    });
    renderWithProviders(<HistoryPanel />);
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Could not load the history: start_date must be an RFC 3339 time or a YYYY-MM-DD date, got "x" (400)',
    );
  });

  it("filters by an error group from the URL, shows it, and clears it", async () => {
    window.history.replaceState(null, '', '/monitoring?error_group=12&status=failed');
    const api = setUpApi();
    const user = userEvent.setup();
    renderWithProviders(<HistoryPanel />);
    expect(await screen.findByTestId('error-group-filter')).toHaveTextContent('Error group #12');
    await waitFor(() => expect(lastQuery(api)).toMatchObject({ error_group: '12', status: 'failed' }));

    await user.click(screen.getByRole('button', { name: 'Clear the error group #12 filter' }));
    expect(window.location.search).toBe('?status=failed');
    expect(screen.queryByTestId('error-group-filter')).toBeNull();
    await waitFor(() => expect(lastQuery(api)).toEqual({ status: 'failed', page: '1', page_size: '50' }));

    // Back brings it back; the Clear button clears it with the rest.
    act(() => window.history.back());
    expect(await screen.findByTestId('error-group-filter')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Clear' }));
    expect(window.location.search).toBe('');
  });
});
