/**
 * pass@k: the probability that at least one of k completions drawn for an item passes, estimated
 * without bias from n ≥ k completions of which c passed (Chen et al., "Evaluating Large Language
 * Models Trained on Code", 2021, §2.1 and Fig. 3).
 */

/** One item's sample counts: `n` completions generated, `c` of them correct. */
export interface PassCounts {
  n: number;
  c: number;
}

/** One row of {@link passAtKTable}; field names are stable JSON keys. */
export interface PassAtKRow {
  k: number;
  /** Mean over items of the unbiased per-item estimate. */
  pass_at_k: number;
  /** Number of items averaged. */
  n_items: number;
}

/**
 * Unbiased pass@k estimate for one item (Chen et al. 2021):
 *
 *   pass@k = 1 − C(n − c, k) / C(n, k)
 *
 * computed as the numerically stable product `1 − ∏_{i = n−c+1}^{n} (1 − k/i)` (no binomial
 * coefficients, so no overflow for large n), and exactly 1 when `n − c < k` (every k-subset
 * contains a correct completion). Unlike the plug-in `1 − (1 − c/n)^k`, which is biased low, its
 * expectation over the draw of n completions is the true pass@k.
 *
 * Requires integers `0 ≤ c ≤ n` and `1 ≤ k ≤ n`; throws a `RangeError` otherwise.
 *
 * @example
 * passAtK(5, 2, 2); // 1 − C(3,2)/C(5,2) = 1 − 3/10 = 0.7
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be an integer ≥ 1, got ${n}`);
  if (!Number.isSafeInteger(c) || c < 0 || c > n) {
    throw new RangeError(`c must be an integer in [0, n = ${n}], got ${c}`);
  }
  if (!Number.isSafeInteger(k) || k < 1 || k > n) {
    throw new RangeError(`k must be an integer in [1, n = ${n}], got ${k}`);
  }
  if (n - c < k) return 1;
  let product = 1;
  for (let i = n - c + 1; i <= n; i++) product *= 1 - k / i;
  return 1 - product;
}

/**
 * pass@k of a whole benchmark: the mean over items of {@link passAtK}, for every k that every item
 * supports (k ≤ min n). `ks` defaults to `1, 2, …, min n`; a given list (e.g. `[1, 5, 10]`) keeps
 * its order, drops duplicates and drops every k > min n. No items, or an item with n = 0, gives an
 * empty table (no k can be estimated for every item).
 *
 * @example
 * passAtKTable([{ n: 5, c: 2 }, { n: 5, c: 0 }], [1, 5, 10]);
 * // [{ k: 1, pass_at_k: 0.2, n_items: 2 }, { k: 5, pass_at_k: 0.5, n_items: 2 }]
 */
export function passAtKTable(perItem: readonly PassCounts[], ks?: readonly number[]): PassAtKRow[] {
  return table(
    perItem.length,
    (i) => perItem[i]!.n,
    (i) => perItem[i]!.c,
    ks,
  );
}

/**
 * {@link passAtKTable} for items that all have `n` completions, with `c[i]` correct for item i:
 * the same rows (same order of summation) without an object per item, for large datasets.
 */
export function passAtKTableUniform(n: number, c: ArrayLike<number>, ks?: readonly number[]): PassAtKRow[] {
  return table(
    c.length,
    () => n,
    (i) => c[i]!,
    ks,
  );
}

function table(
  items: number,
  nAt: (i: number) => number,
  cAt: (i: number) => number,
  ks: readonly number[] | undefined,
): PassAtKRow[] {
  if (items === 0) return [];
  let minN = Number.POSITIVE_INFINITY;
  for (let i = 0; i < items; i++) {
    const n = nAt(i);
    const c = cAt(i);
    if (!Number.isSafeInteger(n) || !Number.isSafeInteger(c) || n < 0 || c < 0 || c > n) {
      throw new RangeError(`each item needs integers 0 ≤ c ≤ n, got n = ${n}, c = ${c}`);
    }
    minN = Math.min(minN, n);
  }
  if (ks !== undefined) {
    for (const k of ks) {
      if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`each k must be an integer ≥ 1, got ${k}`);
    }
  }
  const chosen = ks === undefined ? Array.from({ length: minN }, (_, i) => i + 1) : [...new Set(ks)];
  return chosen
    .filter((k) => k <= minN)
    .map((k) => {
      let sum = 0;
      for (let i = 0; i < items; i++) sum += passAtK(nAt(i), cAt(i), k);
      return { k, pass_at_k: sum / items, n_items: items };
    });
}
