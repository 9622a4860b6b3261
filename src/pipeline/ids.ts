import { readFileSync } from "node:fs";
import { BenchlineError } from "../core/errors.js";

/**
 * An id list for `--ids FILE`: a JSON list, EditBench's `{"sampled_instance_ids": [...]}`, or
 * one id a line (blank lines and `#` comments skipped). Pure; `label` names the file in errors.
 */
export function parseIds(text: string, label: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      throw new BenchlineError("input", `${label}: not valid JSON (${(error as Error).message})`);
    }
    const list = Array.isArray(value)
      ? value
      : (value as { sampled_instance_ids?: unknown }).sampled_instance_ids;
    if (!Array.isArray(list) || !list.every((v) => typeof v === "string" || typeof v === "number"))
      throw new BenchlineError(
        "input",
        `${label}: expected a JSON list of ids or {"sampled_instance_ids": [...]}`,
      );
    return list.map(String);
  }
  return trimmed
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

export function loadIds(path: string, label = path): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new BenchlineError(
      "not_found",
      `${label}: cannot read the ids file (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  const ids = parseIds(text, label);
  if (ids.length === 0) throw new BenchlineError("input", `${label}: no ids`);
  return ids;
}
