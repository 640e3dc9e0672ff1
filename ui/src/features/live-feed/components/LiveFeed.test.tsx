import { act, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { historyItem, historyPage, installFakeApi, statusChanged } from '../../../testing/fake-api';
import { FakeWebSocket } from '../../../testing/fake-websocket';
import { renderWithProviders } from '../../../testing/render';
import { FEED_FLUSH_MS, useLiveSync } from '../api/use-live-sync';
import { LiveFeed } from './LiveFeed';

function FeedWithSync() {
  useLiveSync();
  return <LiveFeed />;
}

const entries = () => within(screen.getByTestId('live-feed-list')).getAllByRole('listitem');

async function deliver(...messages: unknown[]) {
  await act(async () => {
    for (const message of messages) FakeWebSocket.latest().serverSend(message);
    // The flush, then TanStack Query's notification (a 0 ms timer).
    await vi.advanceTimersByTimeAsync(FEED_FLUSH_MS + 10);
  });
}

describe('LiveFeed', () => {
  let api: ReturnType<typeof installFakeApi>;
  beforeEach(() => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    FakeWebSocket.reset();
    api = installFakeApi({
      '/api/v1/monitoring/history': () => historyPage([historyItem({ id: 1, task_name: 'from_history' })]),
      '/api/v1/monitoring/task-names': () => ({ task_names: ['a', 'b', 'from_history'] }),
    });
  });
  afterEach(() => vi.useRealTimers());

  it('shows events newest first; paused it holds still and counts new ones; resumed it shows them', async () => {
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    renderWithProviders(<FeedWithSync />);
    act(() => FakeWebSocket.latest().serverOpen());
    await screen.findByRole('link', { name: 'from_history' });
    await deliver(statusChanged(2, 'running', 'a', 1));
    expect(entries().map((li) => li.textContent)).toEqual([expect.stringContaining('a'), expect.stringContaining('from_history')]);

    await user.click(screen.getByRole('button', { name: 'Pause' }));
    await deliver(statusChanged(3, 'running', 'b', 2), statusChanged(2, 'success', 'a', 3), statusChanged(4, 'failed', 'b', 4));
    expect(entries()).toHaveLength(2);
    expect(screen.getByTestId('feed-new-count')).toHaveTextContent('Paused · 3 new');

    await user.click(screen.getByRole('button', { name: 'Resume' }));
    expect(screen.queryByTestId('feed-new-count')).not.toBeInTheDocument();
    const shown = entries();
    expect(shown).toHaveLength(5);
    expect(within(shown[0]!).getByText('failed')).toBeInTheDocument();
    expect(within(shown[0]!).getByText('b')).toBeInTheDocument();
  });

  it('sends the filter to the server, keeps it in the URL and applies it locally', async () => {
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    renderWithProviders(<FeedWithSync />);
    act(() => FakeWebSocket.latest().serverOpen());
    await screen.findByRole('link', { name: 'from_history' });
    await screen.findByRole('option', { name: 'b' });
    await user.selectOptions(screen.getByLabelText('Status', { selector: '#feed-status' }), 'failed');
    await user.selectOptions(screen.getByLabelText('Task type', { selector: '#feed-task' }), 'b');
    const sent = FakeWebSocket.latest().sent.map((s) => JSON.parse(s));
    expect(sent[sent.length - 1]).toEqual({
      type: 'subscribe',
      task_names: ['b'],
      statuses: ['failed'],
      services: null,
      environments: null,
    });
    expect(new URLSearchParams(window.location.search).get('feed_status')).toBe('failed');
    // The feed restarts from the history with the filter; what does not match is not shown.
    await screen.findByText(/No runs yet for this filter/);
    await deliver(statusChanged(5, 'failed', 'b', 5), statusChanged(6, 'success', 'b', 6));
    await vi.waitFor(() => expect(entries().length).toBeGreaterThan(0));
    expect(entries().every((li) => li.textContent?.includes('failed'))).toBe(true);
    const asked = api.calls('/api/v1/monitoring/history').map((url) => url.searchParams.toString());
    expect(asked).toContain('task_name=b&status=failed&page=1&page_size=50');
  });

  it("subscribes to the page's service and environment and keeps other services' events out", async () => {
    window.history.replaceState(null, '', '/monitoring?service=billing&environment=prod');
    renderWithProviders(<FeedWithSync />);
    act(() => FakeWebSocket.latest().serverOpen());
    await screen.findByText(/No runs yet for this filter/);
    const sent = FakeWebSocket.latest().sent.map((s) => JSON.parse(s));
    expect(sent[sent.length - 1]).toEqual({
      type: 'subscribe',
      task_names: null,
      statuses: null,
      services: ['billing'],
      environments: ['prod'],
    });
    expect(api.calls('/api/v1/monitoring/history').map((url) => url.searchParams.toString())).toEqual([
      'service=billing&environment=prod&page=1&page_size=50',
    ]);
    // The server filters; a change already on its way when the filter changed is dropped here.
    await deliver(
      statusChanged(7, 'running', 'a', 1, { service: 'billing', environment: 'prod' }),
      statusChanged(8, 'running', 'a', 2, { service: 'shipping', environment: 'prod' }),
    );
    expect(entries()).toHaveLength(1);
    expect(within(entries()[0]!).queryByTestId('task-type-qualifier')).toBeNull();
  });

  it('shows the service of entries whose task name comes from two services', async () => {
    renderWithProviders(<FeedWithSync />);
    act(() => FakeWebSocket.latest().serverOpen());
    await screen.findByRole('link', { name: 'from_history' });
    await deliver(
      statusChanged(7, 'running', 'a', 1, { service: 'billing' }),
      statusChanged(8, 'running', 'a', 2, { service: 'shipping' }),
    );
    expect(screen.getByRole('link', { name: 'a billing' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'a shipping' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'from_history' })).toBeInTheDocument();
  });

  it('shows the connection state, with the countdown while reconnecting', async () => {
    renderWithProviders(<FeedWithSync />);
    const state = screen.getByTestId('connection-state');
    expect(state).toHaveTextContent('Connecting…');
    act(() => FakeWebSocket.latest().serverOpen());
    expect(state).toHaveTextContent('Live: connected');
    act(() => FakeWebSocket.latest().serverClose());
    // First retry: 1000 ms ceiling with the test jitter of 0.5 → 750 ms → "1 s".
    expect(state).toHaveTextContent('Disconnected: reconnecting in 1 s');
    await act(async () => {
      await vi.advanceTimersByTimeAsync(750);
    });
    expect(state).toHaveTextContent('Connecting…');
  });
});
