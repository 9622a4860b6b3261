import { createHash } from "node:crypto";

/** JSON with object keys sorted recursively: equal values always give equal text. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A short, stable content hash of any JSON value (hex; `length` characters). */
export function contentHash(value: unknown, length = 16): string {
  return sha256(stableStringify(value)).slice(0, length);
}

/** The identity of a row in every phase: `(id, sample)`. */
export function rowKey(id: string, sample: number): string {
  return `${id}\u0000${sample}`;
}

/**
 * What a score row judged (`basis` in scores.jsonl): a hash of the completion and, for tasks that
 * execute, the execution's outcome. A score whose basis differs from the current prediction's is
 * stale: scoring redoes it and reports leave it out.
 */
export function scoreBasis(completion: string, execution?: { passed: boolean; ended_at: string }): string {
  // `contentHash` of `{completion, execution}`, with the keys written in sorted order here instead of
  // sorted per call (this runs for every prediction, in scoring and in every report): same text.
  const value = {
    completion,
    execution: execution ? { ended_at: execution.ended_at, passed: execution.passed } : null,
  };
  return sha256(JSON.stringify(value)).slice(0, 12);
}
