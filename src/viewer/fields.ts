/**
 * Reads a few fields of a JSON row straight from its bytes, without parsing (or decoding) the
 * long strings around them — a prompt or a completion is skipped by native byte search, not read.
 *
 * A key is found by searching for `"key":`; it counts only where it is structural (the byte
 * before is `{` or `,`: inside a JSON string every `"` is escaped, so `\"key\":` never matches)
 * and at the requested depth (counted over the shorter side of the line, strings skipped). Anything
 * unusual (whitespace between tokens, a duplicate key, a missing field) returns undefined and the
 * caller falls back to JSON.parse.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const keyCache = new Map<string, Buffer>();

function keyBytes(key: string): Buffer {
  let b = keyCache.get(key);
  if (!b) {
    b = Buffer.from(`"${key}":`);
    keyCache.set(key, b);
  }
  return b;
}

/** Index of the end of the string whose opening quote is at `open` (its closing quote), or -1. */
export function stringEnd(buf: Buffer, open: number, end: number): number {
  // a short string (an id, a status) is scanned here: cheaper than a native call
  const near = Math.min(end, open + 48);
  for (let k = open + 1; k < near; k++) {
    const c = buf[k];
    if (c === BACKSLASH) break;
    if (c === QUOTE) return k;
  }
  let i = open + 1;
  for (;;) {
    const q = buf.indexOf(QUOTE, i);
    if (q < 0 || q >= end) return -1;
    let slashes = 0;
    for (let k = q - 1; k > open && buf[k] === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return q;
    i = q + 1;
  }
}

/** Net nesting change over buf[from, to): opens minus closes, strings skipped. NaN if a string runs past `to`. */
function nesting(buf: Buffer, from: number, to: number): number {
  let depth = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c === QUOTE) {
      const e = stringEnd(buf, i, to);
      if (e < 0) return Number.NaN;
      i = e;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return depth;
}

/**
 * Position of the value of `key` at `depth` (1 = top level) in the line buf[start, end), searching
 * from `from`; -1 if absent or ambiguous.
 */
export function valueAt(
  buf: Buffer,
  start: number,
  end: number,
  key: string,
  depth = 1,
  from = start,
): number {
  const k = keyBytes(key);
  let at = from;
  for (;;) {
    const p = buf.indexOf(k, at);
    if (p < 0 || p + k.length > end) return -1;
    const before = buf[p - 1];
    if (p > start && (before === 0x7b || before === 0x2c)) {
      // depth at p: opens before it, counted over the shorter side (the line closes to 0 at its end)
      const d = p - start <= end - p ? nesting(buf, start, p) : -nesting(buf, p, end);
      if (d === depth) return p + k.length;
      if (Number.isNaN(d)) return -1;
    }
    at = p + 1;
  }
}

/** The string value at `v` (which must open with a quote), or undefined. */
export function stringAt(buf: Buffer, v: number, end: number): string | undefined {
  if (v < 0 || buf[v] !== QUOTE) return undefined;
  const e = stringEnd(buf, v, end);
  if (e < 0) return undefined;
  let escaped = false;
  let ascii = true;
  for (let i = v + 1; i < e && !escaped; i++) {
    const c = buf[i]!;
    escaped = c === BACKSLASH;
    if (c > 0x7f) ascii = false;
  }
  if (escaped) {
    try {
      return JSON.parse(buf.toString("utf8", v, e + 1)) as string;
    } catch {
      return undefined;
    }
  }
  return buf.toString(ascii ? "latin1" : "utf8", v + 1, e);
}

/** The number at `v`, or undefined. */
export function numberAt(buf: Buffer, v: number, end: number): number | undefined {
  if (v < 0) return undefined;
  let e = v;
  while (e < end) {
    const c = buf[e]!;
    if (c === 0x2c || c === 0x7d || c === 0x5d) break;
    e++;
  }
  const text = buf.toString("latin1", v, e);
  const n = Number(text);
  return text !== "" && Number.isFinite(n) ? n : undefined;
}

/** `true`/`false` at `v`, or undefined. */
export function booleanAt(buf: Buffer, v: number): boolean | undefined {
  if (v < 0) return undefined;
  if (buf[v] === 0x74 && buf[v + 1] === 0x72 && buf[v + 2] === 0x75 && buf[v + 3] === 0x65) return true;
  if (buf[v] === 0x66 && buf[v + 1] === 0x61) return false;
  return undefined;
}
