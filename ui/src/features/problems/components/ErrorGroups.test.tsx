import { act, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { setServiceFilter } from '../../../lib/service-filter';
import { errorGroupItem, errorsPage, installFakeApi } from '../../../testing/fake-api';
import { renderWithProviders } from '../../../testing/render';
import { ErrorGroups } from './ErrorGroups';

const ERRORS = '/api/v1/monitoring/errors';
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

describe('ErrorGroups', () => {
  it('lists the groups of the window with their figures, markers, sparkline and state', async () => {
    window.history.replaceState(null, '', '/monitoring?window=168');
    const api = installFakeApi({
      [ERRORS]: (url) =>
        errorsPage(
          [
            errorGroupItem({ id: 12, is_new: true }),
            errorGroupItem({ id: 7, task_name: 'score_message', error_type: null, message: null, count: 1, total: 40, state: 'resolved', regression: true }),
            errorGroupItem({ id: 5, state: 'ignored', count: 2, total: 2 }),
          ],
          Number(url.searchParams.get('time_window')),
        ),
    });
    renderWithProviders(<ErrorGroups />);
    const table = await screen.findByRole('table', { name: 'Error groups' });
    expect(api.calls(ERRORS)[0]?.searchParams.get('time_window')).toBe('168');
    expect(api.calls(ERRORS)[0]?.searchParams.has('task_name')).toBe(false);
    // No page filter: the groups of every service and environment.
    expect(api.calls(ERRORS)[0]?.searchParams.has('service')).toBe(false);
    expect(api.calls(ERRORS)[0]?.searchParams.has('environment')).toBe(false);
    expect(screen.getByRole('heading', { name: 'Problems · error groups · last 7 d (3)' })).toBeInTheDocument();

    const [first, second, third] = within(table).getAllByRole('row').slice(1);
    expect(within(first!).getByRole('link', { name: 'ValueError' })).toHaveAttribute('href', '/monitoring?window=168&group=12');
    expect(first).toHaveTextContent('send_email');
    expect(within(first!).getByTestId('group-message')).toHaveTextContent('bad address');
    expect(within(first!).getByTestId('group-count')).toHaveTextContent('3');
    expect(within(first!).getByTestId('group-total')).toHaveTextContent('10');
    expect(within(first!).getByTestId('group-new')).toHaveTextContent('new');
    expect(within(first!).queryByTestId('group-regression')).toBeNull();
    expect(within(first!).getByTestId('group-first-seen')).toHaveTextContent('2026-11-20 08:00:00Z');
    expect(within(first!).getByTestId('group-last-seen')).toHaveTextContent('2026-11-28 11:30:00Z');
    expect(within(first!).getByTestId('group-state')).toHaveTextContent('open');
    const sparkline = within(first!).getByRole('img', { name: '3 failures over the window' });
    expect(sparkline.querySelector('path.sparkline-line')?.getAttribute('d')).toMatch(/^M0\.0,26\.0L60\.0,/);

    expect(within(second!).getByRole('link', { name: 'Untyped error' })).toBeInTheDocument();
    expect(within(second!).getByTestId('group-message')).toHaveTextContent('No message');
    expect(within(second!).getByTestId('group-regression')).toHaveTextContent('regression');
    expect(within(second!).queryByTestId('group-new')).toBeNull();
    expect(within(second!).getByTestId('group-state')).toHaveTextContent('resolved');
    expect(within(third!).getByTestId('group-state')).toHaveTextContent('ignored');

    await userEvent.click(within(first!).getByRole('link', { name: 'ValueError' }));
    expect(new URLSearchParams(window.location.search).get('group')).toBe('12');
  });

  it("asks for the page's service and environment, and keeps each scope's list apart", async () => {
    window.history.replaceState(null, '', '/monitoring?service=billing&environment=prod');
    const api = installFakeApi({
      [ERRORS]: (url) =>
        errorsPage([errorGroupItem({ id: 1, service: url.searchParams.get('service'), environment: url.searchParams.get('environment') })]),
    });
    const { queryClient } = renderWithProviders(<ErrorGroups />);
    await screen.findByRole('table', { name: 'Error groups' });
    expect(Object.fromEntries(api.calls(ERRORS)[0]!.searchParams)).toEqual({ time_window: '24', service: 'billing', environment: 'prod' });
    expect(screen.queryByText(/not narrowed/)).toBeNull();

    act(() => setServiceFilter({ service: 'shipping', environment: null }));
    await vi.waitFor(() => expect(api.calls(ERRORS)).toHaveLength(2));
    expect(Object.fromEntries(api.calls(ERRORS)[1]!.searchParams)).toEqual({ time_window: '24', service: 'shipping' });
    const keys = queryClient.getQueryCache().findAll({ queryKey: ['errors', 'list'] }).map((query) => query.queryKey);
    expect(keys).toEqual([
      ['errors', 'list', 24, null, { service: 'billing', environment: 'prod' }],
      ['errors', 'list', 24, null, { service: 'shipping', environment: null }],
    ]);
  });

  it('shows the service beside a task name that two groups of different services share, and only there', async () => {
    installFakeApi({
      [ERRORS]: () =>
        errorsPage([
          errorGroupItem({ id: 1, task_name: 'send_email', service: 'billing', environment: 'prod' }),
          errorGroupItem({ id: 2, task_name: 'send_email', service: 'shipping', environment: 'prod' }),
          errorGroupItem({ id: 3, task_name: 'score_message', service: 'billing', environment: 'prod' }),
          // A second error of the same task type: not a collision.
          errorGroupItem({ id: 4, task_name: 'score_message', service: 'billing', environment: 'prod', error_type: 'KeyError' }),
        ]),
    });
    renderWithProviders(<ErrorGroups />);
    const table = await screen.findByRole('table', { name: 'Error groups' });
    const rows = within(table).getAllByRole('row').slice(1);
    const qualifier = (row: HTMLElement) => within(row).queryByTestId('task-type-qualifier')?.textContent ?? null;
    expect(rows.map(qualifier)).toEqual(['billing', 'shipping', null, null]);
    expect(within(rows[0]!).getByTitle('send_email (billing)')).toHaveTextContent('send_email billing');
    // One environment for both: it would tell nothing, so it is not shown.
    expect(within(table).queryByText(/prod/)).toBeNull();
  });

  it('renders a hostile message and error type as text, never as HTML', async () => {
    installFakeApi({
      [ERRORS]: () => errorsPage([errorGroupItem({ error_type: `<b>${HOSTILE}</b>`, message: HOSTILE, task_name: '<script>x</script>' })]),
    });
    renderWithProviders(<ErrorGroups />);
    expect(await screen.findByTestId('group-message')).toHaveTextContent(HOSTILE);
    expect(screen.getByRole('link', { name: `<b>${HOSTILE}</b>` })).toBeInTheDocument();
    expect(screen.getByText('<script>x</script>')).toBeInTheDocument();
    expect(document.querySelector('img, script, b')).toBeNull();
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it('says when the window has no failures', async () => {
    installFakeApi({ [ERRORS]: () => errorsPage([]) });
    renderWithProviders(<ErrorGroups />);
    expect(await screen.findByText('No failures in the last 24 h.')).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Problems · error groups · last 24 h' })).toBeInTheDocument();
  });

  it('shows the API error with a retry', async () => {
    installFakeApi({});
    renderWithProviders(<ErrorGroups />);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not load error groups');
    expect(within(alert).getByRole('button', { name: 'Retry' })).toBeInTheDocument();
  });
});
