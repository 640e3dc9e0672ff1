/**
 * Calls `fn` after changes: at once on a first change, at most once per `intervalMs` while
 * changes keep coming, and once more at least `intervalMs` after the last change. That last
 * call matters: the API may answer from a read cache up to one second old (its
 * `--read-cache-ms`), so a refetch made right after a change can miss it; the one made
 * `intervalMs` later cannot.
 */
export function refreshAfterChanges(fn: () => void, intervalMs: number): { (): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastChange = -Infinity;
  let lastRun = -Infinity;
  const run = () => {
    timer = null;
    lastRun = Date.now();
    fn();
    // This call may have been answered from before the last change: call again later.
    if (lastRun - lastChange < intervalMs) timer = setTimeout(run, intervalMs);
  };
  const changed = () => {
    lastChange = Date.now();
    if (timer !== null) return;
    const wait = lastRun + intervalMs - lastChange;
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
  changed.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return changed;
}
