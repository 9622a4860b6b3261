/**
 * Statistics: pure, deterministic functions (no I/O) over per-item values — mean and bootstrap CI,
 * unbiased pass@k, paired tests between trials, Holm correction. Differences are always B − A.
 */
export {
  allPairs,
  baselinePairs,
  type CompareOptions,
  type ComparePairedInput,
  type ComparisonFields,
  compareAll,
  comparePaired,
  comparePairs,
  type ItemValues,
  type McNemarComparison,
  type PairedComparison,
  type PermutationComparison,
  type TrialComparison,
} from "./compare.js";
export { type Correlation, pearson, pointBiserial } from "./correlation.js";
export {
  type BootstrapCI,
  type BootstrapOptions,
  bootstrapCI,
  mean,
  quantileSorted,
  stderr,
  variance,
} from "./mean.js";
export {
  binomialCdfHalf,
  holm,
  type McNemarResult,
  mcnemarExact,
  type PermutationOptions,
  type PermutationResult,
  pairedBootstrapCI,
  pairedPermutationTest,
} from "./paired.js";
export { type PassAtKRow, type PassCounts, passAtK, passAtKTable, passAtKTableUniform } from "./pass-at-k.js";
export { createRng, type Rng } from "./random.js";
