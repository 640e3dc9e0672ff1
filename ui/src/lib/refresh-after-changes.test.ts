import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { refreshAfterChanges } from './refresh-after-changes';

describe('refreshAfterChanges', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setUp() {
    const runs: number[] = [];
    const start = Date.now();
    const changed = refreshAfterChanges(() => runs.push(Date.now() - start), 1000);
    const at = (ms: number) => vi.advanceTimersByTime(ms - (Date.now() - start));
    return { runs, changed, at };
  }

  it('runs at once, then once more an interval after a lone change', () => {
    const { runs, changed, at } = setUp();
    changed();
    expect(runs).toEqual([0]);
    at(10_000);
    expect(runs).toEqual([0, 1000]);
  });

  it('runs at most once per interval during a burst, and an interval after its last change', () => {
    const { runs, changed, at } = setUp();
    for (let t = 0; t <= 2990; t += 10) {
      at(t);
      changed();
    }
    at(10_000);
    expect(runs).toEqual([0, 1000, 2000, 3000, 4000]);
    const lastChange = 2990;
    expect(runs.some((run) => run >= lastChange + 1000)).toBe(true);
  });

  it('every change is followed by a run at least an interval later', () => {
    const { runs, changed, at } = setUp();
    const changes = [0, 1500, 1700, 5200, 5201, 9000];
    for (const t of changes) {
      at(t);
      changed();
    }
    at(20_000);
    for (const change of changes) expect(runs.some((run) => run >= change + 1000)).toBe(true);
    for (let i = 1; i < runs.length; i += 1) expect(runs[i]! - runs[i - 1]!).toBeGreaterThanOrEqual(1000);
  });

  it('cancel stops what is scheduled', () => {
    const { runs, changed, at } = setUp();
    changed();
    changed.cancel();
    at(5000);
    expect(runs).toEqual([0]);
  });
});
