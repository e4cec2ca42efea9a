/**
 * The bench scripts' timer: the mean milliseconds of a call within the least disturbed of a few
 * time windows (a shared machine only ever slows a window down, so the fastest is the nearest to
 * what the code costs).
 */
export function bestMs(fn: () => void, windowMs = 150, windows = 5): number {
  let best = Infinity;
  for (let w = 0; w < windows; w++) {
    const t0 = performance.now();
    let n = 0;
    do {
      fn();
      n++;
    } while (performance.now() - t0 < windowMs);
    best = Math.min(best, (performance.now() - t0) / n);
  }
  return best;
}
