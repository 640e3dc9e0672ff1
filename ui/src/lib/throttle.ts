/**
 * Calls `fn` at most once per `intervalMs`: the first call runs at once, calls during the
 * interval collapse into one trailing call at its end.
 */
export function throttle(fn: () => void, intervalMs: number): { (): void; cancel(): void } {
  let lastRun = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const run = () => {
    timer = null;
    lastRun = Date.now();
    fn();
  };
  const throttled = () => {
    if (timer !== null) return;
    const wait = lastRun + intervalMs - Date.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
  throttled.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return throttled;
}
