import {
  BenchlineError,
  contentHash,
  formatIssues,
  type ModelSpec,
  type PromptTemplate,
} from "../core/index.js";
import { modelEntrySchema } from "./schema.js";

/** Everything that decides a trial's outputs. Its hash names the trial directory. */
export interface TrialSpec {
  task: { name: string; options: Record<string, unknown> };
  dataset: {
    path: string;
    sha256: string;
    /** `fields:` (task field → dataset column). */
    fields?: Record<string, string>;
    /** A hub dataset: repository, revision, the commit it resolved to, config, split, files. */
    hub?: Record<string, unknown>;
  };
  model: ModelSpec;
  prompt_set: { name: string } & PromptTemplate;
  scorers: { name: string; options: Record<string, unknown> }[];
  execution?: Record<string, unknown>;
  /** The point of a model entry's sweep (`grid:`, or lists for `c`/`k`) this trial runs. */
  grid?: Record<string, unknown>;
}

export interface Trial {
  /** Directory name: `<model-slug>__<prompt-set>__<hash8>`. */
  name: string;
  hash: string;
  spec: TrialSpec;
}

/** Options that only say where secrets or endpoints live are not part of a trial's identity. */
const NON_IDENTITY_OPTIONS = new Set([
  "api_key_env",
  "api_keys",
  "timeout",
  "concurrency",
  "rpm",
  "tpm",
  "max_attempts",
  "headers",
  "threads",
  "adaptive",
  "batch",
]);

/**
 * The part of a spec that is hashed: how much work is done (limit, samples, shards, concurrency)
 * and how it is throttled are not part of it, so a rerun with a larger limit or more samples
 * extends the same trial; anything that changes what a row contains is.
 */
export function trialIdentity(spec: TrialSpec): unknown {
  const options = Object.fromEntries(
    Object.entries(spec.model.options)
      .filter(([k]) => !NON_IDENTITY_OPTIONS.has(k))
      .map(([k, v]) => [k, GUIDED_MODELS.has(k) ? withoutLocalPath(v) : v]),
  );
  const { path: _local, ...model } = spec.model;
  return {
    ...spec,
    dataset: { sha256: spec.dataset.sha256, ...(spec.dataset.fields ? { fields: spec.dataset.fields } : {}) },
    model: { ...model, options },
  };
}

/** A guided model's base and oracle entries: a hub file's local path (like `ModelSpec.path`) is not identity. */
const GUIDED_MODELS = new Set(["base", "oracle"]);
function withoutLocalPath(entry: unknown): unknown {
  if (entry === null || typeof entry !== "object" || !("path" in entry)) return entry;
  const { path: _local, ...rest } = entry as Record<string, unknown>;
  return rest;
}

export function slug(text: string, max = 48): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "");
  return (s || "x").slice(0, max);
}

/** Models × prompt sets, in file order (models outer). */
export function expandTrials(
  base: Omit<TrialSpec, "model" | "prompt_set">,
  models: ModelSpec[],
  prompts: Record<string, PromptTemplate>,
): Trial[] {
  const trials: Trial[] = [];
  const points = models.flatMap(expandModelGrid);
  const ids = new Set<string>();
  for (const { model } of points) {
    if (ids.has(model.id))
      throw new BenchlineError(
        "config",
        `models: two models have the id "${model.id}" after expanding sweeps`,
      );
    ids.add(model.id);
  }
  for (const { model, grid } of points) {
    for (const [name, template] of Object.entries(prompts)) {
      const spec: TrialSpec = {
        ...base,
        model,
        prompt_set: { name, ...template },
        ...(grid ? { grid } : {}),
      };
      const hash = contentHash(trialIdentity(spec), 16);
      trials.push({ name: `${slug(model.id)}__${slug(name, 32)}__${hash.slice(0, 8)}`, hash, spec });
    }
  }
  return trials;
}

/** Settings read only by the `guided` provider: refused elsewhere rather than ignored. */
const GUIDED_ONLY = [
  "base",
  "oracle",
  "c",
  "k",
  "step_size",
  "max_new_tokens",
  "policy",
  "p0",
  "threshold",
  "positions",
  "token_level",
  "analysis",
];
/** Settings a model entry may list directly to sweep them (others go in `grid:`). */
const LIST_SWEEPABLE = ["c", "k"];
const SAMPLING_KEYS = new Set(["temperature", "top_p", "max_tokens", "stop", "seed", "top_logprobs"]);

/** YAML's `.inf` is not JSON: infinite counts are recorded (and hashed) as "inf". */
const finite = (value: unknown): unknown => (value === Number.POSITIVE_INFINITY ? "inf" : value);

/**
 * A model entry with a sweep — `grid: {param: [values]}` and/or lists for `c` and `k` — to one
 * model per combination (first axis outermost), each with a readable id such as
 * `guided c=10 k=5` (so its own trial directory and hash). Entries without a sweep pass through.
 */
export function expandModelGrid(model: ModelSpec): { model: ModelSpec; grid?: Record<string, unknown> }[] {
  const where = `model "${model.id}"`;
  const { grid, ...options } = model.options as Record<string, unknown> & {
    grid?: Record<string, unknown[]>;
  };
  if (model.provider !== "guided") {
    const misplaced = GUIDED_ONLY.filter((key) => options[key] !== undefined);
    if (misplaced.length > 0)
      throw new BenchlineError(
        "config",
        `${where}: ${misplaced.join(", ")} only apply to provider: guided (this model uses ${model.provider})`,
      );
  }
  const axes: [string, unknown[]][] = [];
  for (const key of LIST_SWEEPABLE) {
    const value = options[key];
    if (Array.isArray(value)) {
      if (value.length === 0)
        throw new BenchlineError("config", `${where}: ${key}: an empty list sweeps nothing`);
      axes.push([key, value]);
    }
  }
  for (const [key, values] of Object.entries(grid ?? {})) {
    if (["id", "provider", "grid"].includes(key))
      throw new BenchlineError("config", `${where}: grid.${key}: cannot be swept`);
    if (axes.some(([k]) => k === key))
      throw new BenchlineError(
        "config",
        `${where}: grid.${key}: ${key} is also given as a list; give it once`,
      );
    axes.push([key, values]);
  }
  if (axes.length === 0) return [{ model: { ...model, options: normaliseCounts(options) } }];
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, values] of axes)
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: finite(v) })));
  return combos.map((point) => {
    const spec: ModelSpec = {
      ...model,
      id: `${model.id} ${Object.entries(point)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ")}`,
      params: { ...model.params },
      options: normaliseCounts({ ...options }),
    };
    for (const [key, value] of Object.entries(point)) {
      if (key === "model") spec.model = String(value);
      else if (SAMPLING_KEYS.has(key)) (spec.params as Record<string, unknown>)[key] = value;
      else spec.options[key] = value;
    }
    // The expanded entry must be a valid entry by itself (unknown keys, sampling ranges).
    const entry = {
      provider: spec.provider,
      ...(spec.model ? { model: spec.model } : {}),
      ...spec.params,
      ...spec.options,
    };
    const checked = modelEntrySchema.safeParse(entry);
    if (!checked.success)
      throw new BenchlineError(
        "config",
        `${where}: grid point ${JSON.stringify(point)}: ${formatIssues(checked.error.issues)}`,
      );
    return { model: spec, grid: point };
  });
}

function normaliseCounts(options: Record<string, unknown>): Record<string, unknown> {
  for (const key of LIST_SWEEPABLE) if (options[key] !== undefined) options[key] = finite(options[key]);
  return options;
}
