import { setFlagsFromString } from "node:v8";

/**
 * The V8 flags every benchline process sets before anything else is compiled (`bin.ts`, and
 * `run-loader.ts` whose code cache is only accepted under the flags it was made with).
 *
 * V8 lets the old generation grow to about 4× the live heap before a full collection. Streaming a
 * large dataset leaves garbage there directly (JSON.parse interns short string values such as ids
 * in old space), so a long run would settle at ~4× its live heap whatever its size; growing by
 * 1.5× keeps peak memory close to flat in the dataset's size (BENCHMARKS.md, dataset scale).
 *
 * WebAssembly is compiled by the baseline compiler only (`--liftoff-only`). undici's HTTP parser
 * is a WebAssembly module, compiled in every process that makes a request; V8's optimising
 * compiler then recompiled it in the background, which cost a 100-item run 35 MB of its 111 MB
 * peak and ≈0.15 s of its 0.6 s (BENCHMARKS.md, latency-bound throughput, session 9). The parser
 * takes a few µs a response, so its slower baseline code is not seen in a run's time (20,000
 * answers at 100 ms × 256: the same ratio and CPU with the flag as without).
 */
export function setV8Flags(): void {
  setFlagsFromString("--heap-growing-percent=50");
  setFlagsFromString("--liftoff-only");
}
