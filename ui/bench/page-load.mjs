// Page benchmark (BENCHMARKS.md, "Page (issue 6)"): first load of the built page served by
// `tasklens api --ui-dir ui/dist`, and the live feed under a steady stream of runs, in Debian's
// Chromium driven by playwright-core. No assertions: it prints figures.
//
// How to run (the API on the benchmark database, the page built with `npm run build`):
//   target/release/tasklens api --http-addr 127.0.0.1:18080 --ui-dir ui/dist --database-url ...
//   node ui/bench/page-load.mjs load http://127.0.0.1:18080 5
//     -> 5 cold loads (a new browser each): ms from navigation start until the health cards
//        and the history table both show data; median and each load.
//   node ui/bench/page-load.mjs feed http://127.0.0.1:18080 30 "target/release/api_load live \
//        --base-url http://127.0.0.1:18080 --otlp http://127.0.0.1:14317 --clients 0 --rate 100 --secs 30"
//     -> opens the page, runs the given sender command (runs through a `tasklens collector`),
//        and records long tasks (PerformanceObserver 'longtask') and the feed's top entry once
//        a second for that many seconds.
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const [mode = 'load', base = 'http://127.0.0.1:18080', nArg = '5', senderCmd] = process.argv.slice(2);
const n = Number(nArg);
const launch = () =>
  chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
const ready = () => {
  const cards = document.querySelectorAll('article[data-testid="health-card"]').length;
  const rows = document.querySelectorAll('tr.history-row').length;
  return cards > 0 && rows > 0 ? { t: performance.now(), cards, rows } : null;
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

if (mode === 'load') {
  const times = [];
  for (let i = 0; i < n; i += 1) {
    const browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/monitoring`, { waitUntil: 'commit' });
    const handle = await page.waitForFunction(ready, null, { polling: 'raf', timeout: 60_000 });
    const r = await handle.jsonValue();
    const nav = await page.evaluate(() => {
      const e = performance.getEntriesByType('navigation')[0];
      return { dcl: e.domContentLoadedEventEnd, load: e.loadEventEnd };
    });
    const api = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .filter((e) => e.name.includes('/api/'))
        .map((e) => `${new URL(e.name).pathname.split('/').pop()} ${e.startTime.toFixed(0)}-${e.responseEnd.toFixed(0)}`),
    );
    console.log(
      `load ${i + 1}: ${r.t.toFixed(0)} ms to cards (${r.cards}) + history rows (${r.rows}); DOMContentLoaded ${nav.dcl.toFixed(0)} ms; API calls: ${api.join(', ')}`,
    );
    times.push(r.t);
    await browser.close();
  }
  console.log(`median of ${n} cold loads: ${median(times).toFixed(0)} ms (each: ${times.map((t) => t.toFixed(0)).join(' / ')})`);
} else {
  const browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.addInitScript(() => {
    window.__longtasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(`${base}/monitoring`);
  await page.getByTestId('connection-state').filter({ hasText: 'Live: connected' }).waitFor({ timeout: 30_000 });
  await page.waitForFunction(ready, null, { timeout: 60_000 });
  const t0 = await page.evaluate(() => performance.now());
  const sender = senderCmd ? spawn(senderCmd, { shell: true, stdio: ['ignore', 'inherit', 'inherit'] }) : null;
  const samples = [];
  for (let s = 0; s < n; s += 1) {
    await new Promise((r) => setTimeout(r, 1000));
    samples.push(
      await page.evaluate(() => {
        const list = document.querySelector('[data-testid="live-feed-list"]');
        return { top: list?.querySelector('li')?.textContent?.slice(0, 80) ?? '', count: list?.querySelectorAll('li').length ?? 0 };
      }),
    );
  }
  if (sender) await new Promise((r) => sender.on('exit', r));
  const tasks = await page.evaluate((from) => window.__longtasks.filter((e) => e.start >= from), t0);
  const changed = samples.filter((s, i) => i > 0 && s.top !== samples[i - 1].top).length;
  const total = tasks.reduce((a, e) => a + e.duration, 0);
  const longest = tasks.reduce((a, e) => Math.max(a, e.duration), 0);
  console.log(`feed: top entry changed in ${changed} of ${samples.length - 1} one-second samples; entries shown at the end: ${samples.at(-1)?.count}`);
  console.log(`long tasks during the stream: ${tasks.length}, ${total.toFixed(0)} ms in all (${((100 * total) / (n * 1000)).toFixed(1)}% of the time), longest ${longest.toFixed(0)} ms`);
  await browser.close();
}
