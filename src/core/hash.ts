import { hash } from "node:crypto";

/** JSON with object keys sorted recursively: equal values always give equal text. */
export function stableStringify(value: unknown): string {
  return flatRecords(value) ?? JSON.stringify(sortKeys(value));
}

/**
 * The common case of a prompt's hash, a list of messages (`{role, content}`: plain objects whose
 * values are strings), written directly: the same text as `JSON.stringify(sortKeys(value))`
 * without a sorted copy of every object (this runs for every prompt). Anything else: undefined.
 */
function flatRecords(value: unknown): string | undefined {
  if (!Array.isArray(value)) return undefined;
  let out = "[";
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (item === null || typeof item !== "object" || Object.getPrototypeOf(item) !== Object.prototype)
      return undefined;
    const fields = message(item as Record<string, unknown>) ?? sortedStrings(item as Record<string, unknown>);
    if (fields === undefined) return undefined;
    out += i === 0 ? `{${fields}}` : `,{${fields}}`;
  }
  return `${out}]`;
}

/** The fields of `{role, content}` (strings, in either order), sorted; else undefined. */
function message(item: Record<string, unknown>): string | undefined {
  const { role, content } = item;
  if (typeof role !== "string" || typeof content !== "string") return undefined;
  let n = 0;
  for (const _ in item) if (++n > 2) return undefined;
  return `"content":${JSON.stringify(content)},"role":${JSON.stringify(role)}`;
}

/** The fields of an object whose values are strings (or undefined), sorted; else undefined. */
function sortedStrings(item: Record<string, unknown>): string | undefined {
  const keys = Object.keys(item);
  if (keys.length > 1) keys.sort();
  let fields = "";
  for (const key of keys) {
    // An index-like key ("0", "12") is enumerated before the others whatever the insertion order.
    const first = key.charCodeAt(0);
    if (first >= 48 && first <= 57) return undefined;
    const v = item[key];
    if (v === undefined) continue;
    if (typeof v !== "string") return undefined;
    fields += `${fields === "" ? "" : ","}${JSON.stringify(key)}:${JSON.stringify(v)}`;
  }
  return fields;
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
  // One call (no Hash object a call): 3x faster for the short texts hashed a row at a time.
  return hash("sha256", text, "hex");
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
