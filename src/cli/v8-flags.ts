import { setFlagsFromString } from "node:v8";

/**
 * The V8 flags every benchline process sets before anything else is compiled (`bin.ts`, and
 * `run-loader.ts` whose code cache is only accepted under the flags it was made with).
 *
 * V8 lets the old generation grow to about 4× the live heap before a full collection. Streaming a
 * large dataset leaves garbage there directly (JSON.parse interns short string values such as ids
 * in old space), so a long run would settle at ~4× its live heap whatever its size; growing by
 * 1.5× keeps peak memory close to flat in the dataset's size (BENCHMARKS.md, dataset scale).
 */
export function setV8Flags(): void {
  setFlagsFromString("--heap-growing-percent=50");
}
