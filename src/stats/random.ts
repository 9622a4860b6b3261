/**
 * Seeded pseudo-random numbers for the resampling methods in this folder.
 *
 * Generator: xoshiro128** 1.1 (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
 * ACM TOMS 2021; reference C code at https://prng.di.unimi.it/xoshiro128starstar.c), 128 bits of
 * state, period 2^128 − 1. The state is filled from the seed with splitmix32, as the authors
 * recommend seeding xoshiro from a different generator.
 */

/** A source of uniform numbers in `[0, 1)` with 32 bits of resolution. */
export type Rng = () => number;

const TWO_POW_32 = 4294967296;

/**
 * A deterministic pseudo-random generator: equal seeds give equal streams, in every run and on
 * every platform. Each call returns `u / 2^32` for the next 32-bit output `u` of xoshiro128**, so
 * values lie in `[0, 1)`.
 *
 * `seed` must be a safe integer; it is reduced modulo 2^32 (`seed >>> 0`), so seeds `s` and
 * `s + 2^32` give the same stream.
 *
 * @example
 * const rng = createRng(42);
 * const index = Math.floor(rng() * values.length); // a uniform index
 */
export function createRng(seed: number): Rng {
  const next = createUint32Source(seed);
  return () => next() / TWO_POW_32;
}

/**
 * The raw generator behind {@link createRng}: each call returns the next 32-bit output of
 * xoshiro128** as an unsigned integer in `[0, 2^32)`.
 */
export function createUint32Source(seed: number): () => number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const seeder = splitmix32(seed >>> 0);
  return xoshiro128StarStar([seeder(), seeder(), seeder(), seeder()]);
}

/**
 * xoshiro128** started from an explicit 128-bit state `[s0, s1, s2, s3]` (32-bit words), exactly as
 * the reference C code; returns unsigned 32-bit outputs. Exposed so tests can pin the algorithm
 * against the reference; use {@link createRng} otherwise.
 */
export function xoshiro128StarStar(state: readonly [number, number, number, number]): () => number {
  let [s0, s1, s2, s3] = state.map((word) => word | 0) as [number, number, number, number];
  // The all-zero state is the one fixed point of xoshiro; the seeder cannot realistically produce
  // it, but the guard costs nothing.
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;

  return () => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
}

// ---------------------------------------------------------------------------------------------
// internal helpers

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A 32-bit splitmix-style seeder: a golden-ratio Weyl sequence (increment 0x9e3779b9) passed
 * through the MurmurHash3 `fmix32` finalizer, so nearby seeds give unrelated states.
 */
function splitmix32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) | 0;
  };
}
