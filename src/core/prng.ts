import { createHash } from "node:crypto";

/**
 * A small seeded generator for providers (which may import only core/): sfc32 (Chris Doty-Humphrey's
 * "small fast counting" generator, 128 bits of state) seeded from the SHA-256 of the seed's text,
 * so any string or number gives a well-mixed, platform-independent stream in `[0, 1)`.
 *
 * @example
 * const next = seededRandom(`42/${sampleId}/0`);
 * if (next() < 0.3) consult();
 */
export function seededRandom(seed: string | number): () => number {
  const digest = createHash("sha256").update(String(seed)).digest();
  let a = digest.readUInt32LE(0);
  let b = digest.readUInt32LE(4);
  let c = digest.readUInt32LE(8);
  let d = digest.readUInt32LE(12);
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next(); // discard the first outputs, as the author recommends
  return next;
}
