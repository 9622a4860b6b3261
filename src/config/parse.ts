import { parse as parseYaml } from "yaml";
import {
  BenchlineError,
  formatIssues,
  type ModelSpec,
  PARSE_ONCE,
  type SamplingParams,
} from "../core/index.js";
import { type ExperimentFile, experimentSchema, type ModelEntry } from "./schema.js";

/**
 * Validates an experiment object (pure). Errors name the file and the field path:
 * `quickstart.yaml: models[1].temperature: expected number, received string`.
 */
export function parseExperiment(value: unknown, label: string): ExperimentFile {
  const result = experimentSchema.safeParse(value, PARSE_ONCE);
  if (!result.success) {
    throw new BenchlineError("config", `${label}: ${formatIssues(result.error.issues)}`, {
      cause: result.error,
    });
  }
  return result.data;
}

/** Parses YAML or JSON text (JSON is YAML) and validates it. */
export function parseExperimentText(text: string, label: string): ExperimentFile {
  let value: unknown;
  try {
    value = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    const e = error as { message: string; linePos?: [{ line: number; col: number }] };
    const where = e.linePos ? `:${e.linePos[0].line}:${e.linePos[0].col}` : "";
    const first = e.message.split("\n")[0] ?? e.message;
    throw new BenchlineError("config", `${label}${where}: invalid YAML: ${first}`, { cause: error });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new BenchlineError("config", `${label}: expected a mapping of experiment fields at the top level`);
  }
  return parseExperiment(value, label);
}

const SAMPLING_KEYS = ["temperature", "top_p", "max_tokens", "stop", "seed", "top_logprobs"] as const;

/**
 * A model entry to a ModelSpec. Spec strings are `provider[:rest]` (`gold`, `openai:gpt-4o-mini`,
 * `ollama:llama3.1:8b` — only the first colon splits); what `rest` means is the provider's business.
 */
export function modelSpecFromEntry(entry: ModelEntry): ModelSpec {
  if (typeof entry === "string") {
    const colon = entry.indexOf(":");
    const provider = colon === -1 ? entry : entry.slice(0, colon);
    const spec: ModelSpec = { id: entry, provider, params: {}, options: {} };
    if (colon !== -1) spec.model = entry.slice(colon + 1);
    return spec;
  }
  const { id, provider, model, ...rest } = entry;
  const params: SamplingParams = {};
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    if ((SAMPLING_KEYS as readonly string[]).includes(key)) (params as Record<string, unknown>)[key] = value;
    else options[key] = value;
  }
  const spec: ModelSpec = {
    id: id ?? (model ? `${provider}:${model}` : provider),
    provider,
    params,
    options,
  };
  if (model !== undefined) spec.model = model;
  return spec;
}

/** `{name, ...options}` or a bare name, as `[name, options]`. */
export function splitNamed(entry: string | { name: string }): {
  name: string;
  options: Record<string, unknown>;
} {
  if (typeof entry === "string") return { name: entry, options: {} };
  const { name, ...options } = entry;
  return { name, options };
}

/**
 * What a `--dataset` value names, by this rule: `hf:owner/name[@rev]` is a hub dataset; a value
 * that `exists` (as a path) is that file; otherwise a bare `owner/name[@rev]` — one `/`, no
 * leading `.`, `/` or `~`, and no data-file ending (`.jsonl`, `.json`, `.csv`, `.tsv`, `.parquet`,
 * `.gz`) — is a hub id; anything else is a path (and the dataset reader names it when missing).
 * Pure: the caller supplies `exists`.
 *
 * @example
 * parseDatasetArg("deathbyknowledge/shell-tasks", () => false) // { hub: "hf:deathbyknowledge/shell-tasks" }
 * parseDatasetArg("data/tasks.jsonl", () => false)             // { path: "data/tasks.jsonl" }
 */
export function parseDatasetArg(
  value: string,
  exists: (path: string) => boolean,
): { hub: string } | { path: string } {
  if (value === "") throw new BenchlineError("usage", "--dataset: empty value");
  if (value.startsWith("hf:")) return { hub: value };
  if (exists(value)) return { path: value };
  const bare = /^[A-Za-z0-9][\w.-]*\/[\w.-]+(@[^\s/@]+)?$/.test(value);
  const dataFile = /\.(jsonl|json|csv|tsv|parquet|gz)$/i.test(value.replace(/@[^@]*$/, ""));
  return bare && !dataFile ? { hub: `hf:${value}` } : { path: value };
}
