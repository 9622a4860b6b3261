import { quantileSorted } from "./mean.js";
import { createRng } from "./random.js";

/** A correlation with its percentile bootstrap CI (null where undefined: constant values, n < 3). */
export interface Correlation {
  r: number | null;
  low: number | null;
  high: number | null;
  n: number;
}

/**
 * Pearson's r of `x` and `y`; with a binary `y` (0/1) this is the point-biserial correlation.
 * Null when either side is constant.
 */
export function pearson(x: readonly number[], y: readonly number[]): number | null {
  const n = Math.min(x.length, y.length);
  if (n < 2) return null;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * Point-biserial correlation of a statistic with a pass/fail outcome, and a percentile bootstrap CI
 * (`resamples` resamples of the pairs, seeded; resamples where r is undefined are skipped).
 *
 * @example
 * pointBiserial([2.1, 0.3, 1.7], [false, true, false]) // { r: -0.98, low, high, n: 3 }
 */
export function pointBiserial(
  x: readonly number[],
  passed: readonly boolean[],
  options: { confidence?: number; resamples?: number; seed?: number } = {},
): Correlation {
  const y = passed.map((p) => (p ? 1 : 0));
  const n = Math.min(x.length, y.length);
  const r = pearson(x, y);
  if (r === null || n < 3) return { r, low: null, high: null, n };
  const rng = createRng(options.seed ?? 0);
  const rs: number[] = [];
  const bx = new Array<number>(n);
  const by = new Array<number>(n);
  for (let b = 0; b < (options.resamples ?? 2000); b++) {
    for (let i = 0; i < n; i++) {
      const j = Math.floor(rng() * n);
      bx[i] = x[j] as number;
      by[i] = y[j] as number;
    }
    const rb = pearson(bx, by);
    if (rb !== null) rs.push(rb);
  }
  if (rs.length === 0) return { r, low: null, high: null, n };
  rs.sort((a, b) => a - b);
  const alpha = 1 - (options.confidence ?? 0.95);
  return { r, low: quantileSorted(rs, alpha / 2), high: quantileSorted(rs, 1 - alpha / 2), n };
}
