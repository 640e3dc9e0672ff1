// End to end: the real stack (PostgreSQL, `tasklens collector`, `tasklens api` serving the built
// page) and Debian's Chromium driven by playwright-core. Runs are sent over OTLP/HTTP JSON and
// must show up on the page.
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSpans, sendSpans } from './otlp';
import { Stack, artifactsDir } from './stack';

const stack = new Stack();
let browser: Browser | undefined;
let page: Page;
const suffix = Date.now().toString(36);
const OK_TASK = `e2e_score_${suffix}`;
const FAILING_TASK = `e2e_fail_${suffix}`;
const HOSTILE = '<img src=x onerror="window.__pwned=1">';
const TRACEBACK = `Traceback (most recent call last):\n  File "worker.py", line 42, in score\n    raise RateLimitError(${suffix})\nRateLimitError: rate limited ${suffix}`;

beforeAll(async () => {
  await stack.start();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    // The sandbox needs user namespaces, which CI containers (running as root) do not give.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (error) => console.error('page error:', error));
  page.on('console', (message) => {
    if (message.type() === 'error') console.error('page console:', message.text());
  });
});

afterAll(async () => {
  try {
    if (page) await page.screenshot({ path: join(artifactsDir, 'dashboard.png'), fullPage: true }).catch(() => undefined);
    await browser?.close();
  } finally {
    await stack.stop();
  }
});

describe('the monitoring page against the real stack', () => {
  it('shows runs sent over OTLP live, in the cards and the history, and opens a failed run', async () => {
    // The token comes once in the URL; the page keeps it for the tab and takes it off the URL.
    await page.goto(`${stack.apiBase}/monitoring?token=${stack.apiToken}`);
    await page.waitForURL((url) => !url.searchParams.has('token'));
    await page.getByTestId('connection-state').filter({ hasText: 'Live: connected' }).waitFor({ timeout: 30_000 });
    await page.getByText('No runs recorded yet.').waitFor();

    // Runs arrive while the page is open: they must come through the WebSocket.
    await sendSpans(stack.otlpHttpBase, [
      ...runSpans({ taskName: OK_TASK, taskId: `ok-1-${suffix}`, params: { message_id: 1 } }).spans,
      ...runSpans({ taskName: OK_TASK, taskId: `ok-2-${suffix}`, params: { message_id: 2 }, durationMs: 1200 }).spans,
    ]);
    const failed = runSpans({
      taskName: FAILING_TASK,
      taskId: `fail-1-${suffix}`,
      params: { message_id: 3, note: HOSTILE },
      error: { type: 'RateLimitError', message: `rate limited ${suffix}`, stacktrace: TRACEBACK },
    });
    await sendSpans(stack.otlpHttpBase, failed.spans);

    const feed = page.getByTestId('live-feed-list');
    await feed.getByRole('link', { name: FAILING_TASK }).first().waitFor({ timeout: 30_000 });
    await feed.getByRole('link', { name: OK_TASK }).first().waitFor();
    await expect.poll(() => feed.locator('li', { hasText: FAILING_TASK }).filter({ hasText: 'failed' }).count()).toBeGreaterThan(0);

    // The cards update live (the socket invalidates the metrics).
    const okCard = page.getByRole('article', { name: `Health of ${OK_TASK}` });
    await okCard.waitFor({ timeout: 30_000 });
    await expect.poll(() => okCard.getByTestId('count-success').textContent(), { timeout: 30_000 }).toBe('2');
    expect(await okCard.getByTestId('success-rate').textContent()).toBe('100.00 %');
    const failCard = page.getByRole('article', { name: `Health of ${FAILING_TASK}` });
    await expect.poll(() => failCard.getByTestId('count-failed').textContent(), { timeout: 30_000 }).toBe('1');
    expect(await failCard.getByTestId('success-rate').textContent()).toBe('0.00 %');

    // Its error group shows up in the Problems section live too, with no reload.
    const groupRow = page.getByRole('table', { name: 'Error groups' }).getByRole('row').filter({ hasText: FAILING_TASK });
    await expect.poll(() => groupRow.count(), { timeout: 30_000 }).toBe(1);

    // The history has all three; the status filter narrows it to the failed one, in the URL.
    const rows = page.locator('tr.history-row');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(3);
    await page.locator('#history-status').selectOption('failed');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await page.getByTestId('match-count').textContent()).toBe('1 matches');
    expect(new URL(page.url()).searchParams.get('status')).toBe('failed');

    // A reload keeps the filter.
    await page.reload();
    await page.getByTestId('match-count').filter({ hasText: '1 matches' }).waitFor();
    expect(await page.locator('#history-status').inputValue()).toBe('failed');
    await expect.poll(() => rows.count()).toBe(1);

    // Keyboard: focus the row, Enter opens the run; the traceback and params are there as text.
    await rows.first().focus();
    await page.keyboard.press('Enter');
    const drawer = page.getByTestId('run-detail');
    await drawer.getByTestId('traceback').waitFor();
    expect(await drawer.getByTestId('traceback').textContent()).toBe(TRACEBACK);
    expect(await drawer.getByTestId('error-message').textContent()).toBe(`rate limited ${suffix}`);
    expect(await drawer.getByTestId('trace-id').textContent()).toBe(failed.traceId);
    expect(JSON.parse((await drawer.getByTestId('params').textContent()) ?? 'null')).toEqual({ message_id: 3, note: HOSTILE });
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await drawer.locator('img').count()).toBe(0);
    expect(new URL(page.url()).searchParams.get('run')).toMatch(/^\d+$/);
    await page.screenshot({ path: join(artifactsDir, 'run-detail.png') });

    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });
    expect(new URL(page.url()).searchParams.get('run')).toBeNull();
  });

  // The failed run of the first test is the one failure of FAILING_TASK: one group, count 1.
  it("groups the failure among the problems: its detail, its history, and resolving it", async () => {
    await page.goto(`${stack.apiBase}/monitoring`);
    const row = page.getByRole('table', { name: 'Error groups' }).getByRole('row').filter({ hasText: FAILING_TASK });
    await expect.poll(() => row.count(), { timeout: 30_000 }).toBe(1);
    expect(await row.getByTestId('group-new').textContent()).toBe('new');
    expect(await row.getByTestId('group-count').textContent()).toBe('1');
    expect(await row.getByTestId('group-total').textContent()).toBe('1');
    expect(await row.getByTestId('group-state').textContent()).toBe('open');
    expect(await row.getByTestId('group-message').textContent()).toBe(`rate limited ${suffix}`);
    const failCard = page.getByRole('article', { name: `Health of ${FAILING_TASK}` });
    await expect.poll(() => failCard.getByTestId('open-groups').textContent(), { timeout: 30_000 }).toBe('1 open error group');

    // Open it: the traceback, as text, and its run.
    await row.getByRole('link', { name: 'RateLimitError' }).click();
    const drawer = page.getByRole('dialog', { name: `RateLimitError in ${FAILING_TASK}` });
    await drawer.getByTestId('group-traceback').waitFor();
    expect(await drawer.getByTestId('group-traceback').textContent()).toBe(TRACEBACK);
    await drawer.getByRole('link', { name: `fail-1-${suffix}` }).waitFor();
    const groupId = new URL(page.url()).searchParams.get('group');
    expect(groupId).toMatch(/^\d+$/);
    await page.screenshot({ path: join(artifactsDir, 'error-group.png') });

    // Resolve it: the drawer, the list and the card follow.
    await drawer.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => drawer.getByTestId('group-state').textContent(), { timeout: 10_000 }).toBe('resolved');
    await drawer.getByRole('button', { name: 'Reopen' }).waitFor();
    await expect.poll(() => row.getByTestId('group-state').textContent(), { timeout: 10_000 }).toBe('resolved');
    await expect.poll(() => failCard.getByTestId('open-groups').textContent(), { timeout: 10_000 }).toBe('0 open error groups');

    // Its history: the failed run alone, filtered by the group in the URL.
    await drawer.getByRole('link', { name: 'Show in history' }).click();
    await drawer.waitFor({ state: 'detached' });
    expect(new URL(page.url()).searchParams.get('error_group')).toBe(groupId);
    await page.getByTestId('error-group-filter').filter({ hasText: `Error group #${groupId}` }).waitFor();
    const rows = page.locator('tr.history-row');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(1);
    expect(await rows.first().textContent()).toContain(FAILING_TASK);
    expect(await page.getByTestId('match-count').textContent()).toBe('1 matches');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('history-title');

    // Still resolved after a reload (it is the server's state, not the page's).
    await page.reload();
    await expect.poll(() => row.getByTestId('group-state').textContent(), { timeout: 30_000 }).toBe('resolved');
    await expect.poll(() => rows.count()).toBe(1);
  });

  it('lists a run that started and never finished among the problems, and opens it', async () => {
    const STUCK_TASK = `e2e_stuck_${suffix}`;
    // Enqueued and started a minute ago; its end never comes.
    const minuteAgo = BigInt(Date.now() - 60_000) * 1_000_000n;
    const [enqueue, start] = runSpans({ taskName: STUCK_TASK, taskId: `stuck-1-${suffix}`, params: {} }, minuteAgo).spans;
    await sendSpans(stack.otlpHttpBase, [enqueue, start]);
    await page.goto(`${stack.apiBase}/monitoring`);
    const stuck = page.getByRole('table', { name: 'Stuck runs' });
    const row = stuck.getByRole('row').filter({ hasText: STUCK_TASK });
    await expect.poll(async () => {
      if ((await row.count()) === 0) await page.reload();
      return row.count();
    }, { timeout: 30_000, interval: 1_000 }).toBe(1);
    await expect.poll(() => row.textContent()).toContain('set by --stuck-threshold');
    await row.getByRole('button', { name: STUCK_TASK }).click();
    const drawer = page.getByRole('dialog');
    await drawer.waitFor();
    await expect.poll(() => drawer.textContent()).toContain(`stuck-1-${suffix}`);
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });
  });

  it('keeps the feed bounded and the cards current through a burst of 150 runs (450 status changes)', async () => {
    const BURST_TASK = `e2e_burst_${suffix}`;
    await page.goto(`${stack.apiBase}/monitoring`);
    await page.getByTestId('connection-state').filter({ hasText: 'Live: connected' }).waitFor({ timeout: 30_000 });
    // Three requests of 50 runs, sent back to back.
    for (let batch = 0; batch < 3; batch += 1) {
      const spans = Array.from({ length: 50 }, (_, i) =>
        runSpans({ taskName: BURST_TASK, taskId: `burst-${batch}-${i}-${suffix}`, params: { i } }).spans,
      ).flat();
      await sendSpans(stack.otlpHttpBase, spans);
    }
    const card = page.getByRole('article', { name: `Health of ${BURST_TASK}` });
    await expect.poll(() => card.getByTestId('count-success').textContent(), { timeout: 60_000 }).toBe('150');
    const entries = page.getByTestId('live-feed-list').locator('li');
    await expect.poll(() => entries.filter({ hasText: BURST_TASK }).count(), { timeout: 30_000 }).toBeGreaterThan(0);
    expect(await entries.count()).toBeLessThanOrEqual(200);
    // The page still answers.
    expect(await page.evaluate(() => document.title)).toContain('tasklens');
    await page.screenshot({ path: join(artifactsDir, 'dashboard.png'), fullPage: true });
  });
});
