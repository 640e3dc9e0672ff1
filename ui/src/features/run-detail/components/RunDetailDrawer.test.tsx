import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { TaskDetail } from '../../../lib/api-types';
import { installFakeApi } from '../../../testing/fake-api';
import { renderWithProviders } from '../../../testing/render';
import { RunDetailDrawer } from './RunDetailDrawer';

const HOSTILE = '<img src=x onerror="window.__pwned=1">';

function run(overrides: Partial<TaskDetail> = {}): TaskDetail {
  return {
    id: 42,
    task_id: 'abc-123',
    task_name: '<b>score_message</b>',
    status: 'failed',
    attempt: 1,
    source: 'tasklens',
    params: { message_id: 500, note: HOSTILE },
    created_at: '2026-11-28T10:29:59Z',
    updated_at: '2026-11-28T10:30:05Z',
    enqueued_at: '2026-11-28T10:29:59Z',
    started_at: '2026-11-28T10:30:00Z',
    completed_at: '2026-11-28T10:30:05Z',
    duration_ms: 5000,
    queue_wait_ms: 1000,
    error_message: `RateLimitError ${HOSTILE}`,
    error_type: 'RateLimitError',
    error_traceback: 'Traceback (most recent call last):\n  File "x.py", line 1\n<script>alert(1)</script>',
    trace_id: '0af7651916cd43dd8448eb211c80319c',
    span_id: 'b7ad6b7169203331',
    queue: 'default',
    service_name: 'worker',
    environment: 'prod',
    worker_host: 'host-1',
    other_attempts: [
      { id: 41, attempt: 0, status: 'failed', created_at: '2026-11-28T10:29:00Z', started_at: null, completed_at: null, duration_ms: 900, error_message: 'first try' },
    ],
    ...overrides,
  };
}

describe('RunDetailDrawer', () => {
  it('renders task data as text, never as HTML', async () => {
    window.history.replaceState(null, '', '/monitoring?run=42');
    installFakeApi({ '/api/v1/monitoring/tasks/42': () => run() });
    renderWithProviders(<RunDetailDrawer />);
    const params = await screen.findByTestId('params');
    expect(params.textContent).toBe(JSON.stringify({ message_id: 500, note: HOSTILE }, null, 2));
    expect(screen.getByTestId('error-message')).toHaveTextContent(`RateLimitError ${HOSTILE}`);
    expect(screen.getByTestId('traceback').textContent).toContain('<script>alert(1)</script>');
    expect(screen.getByRole('heading', { name: '<b>score_message</b>' })).toBeInTheDocument();
    expect(document.querySelector('img, script, b')).toBeNull();
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it('shows timings, the trace id and links to the other attempts', async () => {
    window.history.replaceState(null, '', '/monitoring?run=42&status=failed');
    installFakeApi({ '/api/v1/monitoring/tasks/42': () => run(), '/api/v1/monitoring/tasks/41': () => run({ id: 41, attempt: 0 }) });
    const user = userEvent.setup();
    renderWithProviders(<RunDetailDrawer />);
    expect(await screen.findByTestId('trace-id')).toHaveTextContent('0af7651916cd43dd8448eb211c80319c');
    expect(screen.getByText('Queue wait').nextElementSibling).toHaveTextContent('1.00 s');
    expect(screen.getByText('Duration').nextElementSibling).toHaveTextContent('5.00 s');
    expect(screen.getByText('Service').nextElementSibling).toHaveTextContent('worker');
    expect(screen.getByText('Environment').nextElementSibling).toHaveTextContent('prod');
    const attempt = screen.getByRole('link', { name: 'Attempt 0' });
    expect(attempt).toHaveAttribute('href', '/monitoring?run=41&status=failed');
    await user.click(attempt);
    expect(window.location.search).toBe('?run=41&status=failed');
  });

  it('copies the traceback and closes on Escape', async () => {
    window.history.replaceState(null, '', '/monitoring?run=42');
    installFakeApi({ '/api/v1/monitoring/tasks/42': () => run() });
    const user = userEvent.setup();
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    renderWithProviders(<RunDetailDrawer />);
    const copy = await screen.findByRole('button', { name: 'Copy traceback' });
    // Focus went into the drawer when it opened.
    expect(screen.getByRole('button', { name: /Close the run detail/ })).toHaveFocus();
    await user.click(copy);
    expect(writeText).toHaveBeenCalledWith(run().error_traceback);
    expect(await screen.findByRole('button', { name: 'Copied' })).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(window.location.search).toBe('');
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
  });

  it('says when the run does not exist', async () => {
    window.history.replaceState(null, '', '/monitoring?run=7');
    installFakeApi({});
    renderWithProviders(<RunDetailDrawer />);
    expect(await screen.findByText(/Run 7 does not exist/)).toBeInTheDocument();
  });
});
