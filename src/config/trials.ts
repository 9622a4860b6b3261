import { contentHash, type ModelSpec, type PromptTemplate } from "../core/index.js";

/** Everything that decides a trial's outputs. Its hash names the trial directory. */
export interface TrialSpec {
  task: { name: string; options: Record<string, unknown> };
  dataset: { path: string; sha256: string };
  model: ModelSpec;
  prompt_set: { name: string } & PromptTemplate;
  scorers: { name: string; options: Record<string, unknown> }[];
  execution?: Record<string, unknown>;
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
]);

/**
 * The part of a spec that is hashed: how much work is done (limit, samples, shards, concurrency)
 * and how it is throttled are not part of it, so a rerun with a larger limit or more samples
 * extends the same trial; anything that changes what a row contains is.
 */
export function trialIdentity(spec: TrialSpec): unknown {
  const options = Object.fromEntries(
    Object.entries(spec.model.options).filter(([k]) => !NON_IDENTITY_OPTIONS.has(k)),
  );
  return {
    ...spec,
    dataset: { sha256: spec.dataset.sha256 },
    model: { ...spec.model, options },
  };
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
  for (const model of models) {
    for (const [name, template] of Object.entries(prompts)) {
      const spec: TrialSpec = { ...base, model, prompt_set: { name, ...template } };
      const hash = contentHash(trialIdentity(spec), 16);
      trials.push({ name: `${slug(model.id)}__${slug(name, 32)}__${hash.slice(0, 8)}`, hash, spec });
    }
  }
  return trials;
}
