import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import {
  type ExperimentFile,
  expandTrials,
  type LoadedExperiment,
  modelEntrySchema,
  modelSpecFromEntry,
  splitNamed,
  type Trial,
} from "../config/index.js";
import {
  BenchlineError,
  firstMissing,
  formatIssues,
  type ModelSpec,
  malformedPlaceholder,
  type PromptTemplate,
  placeholders,
  type Sample,
  type Task,
} from "../core/index.js";
import {
  checkModel,
  checkResponses,
  FileHashes,
  fieldOf,
  findPromptMismatch,
  guidedHubModels,
  HASH_CACHE,
  loadResponses,
  modelFile,
  modelTakes,
  noBatchApi,
  withHubFile,
} from "../providers/index.js";
import { DEFAULT_STATS, type StatsSettings } from "../report/summary.js";
import {
  type ExecutionConfig,
  isImageTemplate,
  parseExecutionConfig,
  type ResolvedExecution,
  requireDockerImages,
  resolveExecution,
  type SandboxKind,
} from "../sandbox/index.js";
import { type ResolvedScorer, resolveScorer } from "../scoring/index.js";
import {
  type DownloadProgress,
  fetchHubModel,
  type HubSettings,
  hubSettings,
  isHubDataset,
  isHubModel,
  openHubDataset,
  parseHubDatasetRef,
} from "../sources/index.js";
import { checkFieldMap, type Dataset, getTask, lineOf, loadSamples, readDataset } from "../tasks/index.js";
import { buildPrompt } from "./phases/prompts.js";

/** Command-line overrides of the experiment file; nothing here edits the file. */
export interface Overrides {
  /** Select models by id, or add spec strings not in the file. */
  models?: string[];
  /** Select prompt sets by name. */
  promptSets?: string[];
  limit?: number;
  samples?: number;
  concurrency?: number;
  /** Output root (default: the file's `out`, else `runs`). */
  out?: string;
  /** Override the experiment name (the directory under `out`). */
  name?: string;
  /** Only these dataset ids (`--ids FILE`); `idsLabel` names the file in messages. */
  ids?: string[];
  idsLabel?: string;
  /** Run shard `part` (1-based) of `parts` disjoint shards of the dataset. */
  parts?: number;
  part?: number;
  trialConcurrency?: number;
  /** Use exactly these models (e.g. the import command's `import:` model). */
  modelSpecs?: ModelSpec[];
  /** `import:` models: record dataset ids without a response as error rows instead of failing. */
  allowMissing?: boolean;
  /** Per-request timeout in seconds for every model. */
  timeout?: number;
  /** Sandbox kind for executions (overrides `execution.sandbox`). */
  sandbox?: string;
  /** Send every model's requests through its provider's Batch API (`--batch`). */
  batch?: boolean;
  /** Hub datasets and models from the cache only (as `HF_HUB_OFFLINE=1`). */
  offline?: boolean;
  /** Progress of hub downloads. */
  onDownload?: (progress: DownloadProgress) => void;
  /** Progress of the dataset's validation pass (bytes of the file read, as stored). */
  onCheck?: (progress: CheckProgress) => void;
}

/** How far the validation pass has read the dataset file (`read` of `total` bytes as stored). */
export interface CheckProgress {
  /** The dataset as the experiment names it (a path relative to the working directory, or a hub id). */
  file: string;
  read: number;
  total: number;
  done: boolean;
}

export interface ResolvedExperiment {
  name: string;
  configPath: string;
  baseDir: string;
  /** `<out>/<name>`. */
  dir: string;
  task: Task<unknown, unknown>;
  taskOptions: unknown;
  /** `source`: what a hub dataset is called (`hf:owner/name[split]`), recorded instead of its cached file. */
  dataset: Dataset & { sha256: string; source?: string };
  samplesPerItem: number;
  concurrency: number;
  trialConcurrency: number;
  limit?: number;
  /** This run's shard, when the dataset is split with --parts/--part. */
  shard?: { part: number; parts: number };
  stats: StatsSettings;
  /** Problems worth telling the user that do not stop the run. */
  warnings: string[];
  /**
   * Where each model (by id) was given — `exp.yaml: models[1]`, `--model openai:x` — so errors
   * found when its provider is created name the file and entry.
   */
  modelLabels?: Record<string, string>;
  scorers: ResolvedScorer[];
  /** Judge models of scorers that name one (`judgeOf`), by scorer name. */
  judges?: Record<string, ModelSpec>;
  trials: Trial[];
  /** Sandbox, run defaults and live-sandbox cap (from `execution:`; defaults when absent). */
  execution: ResolvedExecution;
}

/**
 * Everything that can be checked before any file is written: the task and its options, scorers,
 * providers, the whole dataset, and every prompt placeholder against every sample.
 */
export async function resolveExperiment(
  loaded: LoadedExperiment,
  overrides: Overrides = {},
): Promise<ResolvedExperiment> {
  const { file, baseDir } = loaded;
  const label = relativeLabel(loaded.path);

  const taskEntry = splitNamed(file.task);
  let task: Task<unknown, unknown>;
  try {
    task = getTask(taskEntry.name);
  } catch (error) {
    if (error instanceof BenchlineError)
      throw new BenchlineError(error.code, `${label}: task: ${error.message}`, { cause: error });
    throw error;
  }
  let taskOptions: unknown = taskEntry.options;
  if (task.options) {
    const parsed = task.options.safeParse(taskEntry.options);
    if (!parsed.success)
      throw new BenchlineError("config", `${label}: task: ${formatIssues(parsed.error.issues)}`);
    taskOptions = parsed.data;
  } else if (Object.keys(taskEntry.options).length > 0) {
    throw new BenchlineError(
      "config",
      `${label}: task: "${task.name}" takes no options (got ${Object.keys(taskEntry.options).join(", ")})`,
    );
  }

  // A setting is honoured or refused: a task that executes nothing has no sandbox to configure.
  if (!task.execute) {
    if (file.execution !== undefined)
      throw new BenchlineError(
        "config",
        `${label}: execution: task "${task.name}" executes nothing, so this block would be ignored; remove it`,
      );
    if (overrides.sandbox)
      throw new BenchlineError("usage", `--sandbox: task "${task.name}" executes nothing`);
  }
  let execution: ResolvedExecution;
  try {
    // Detecting bubblewrap only matters for tasks that execute.
    let block = overrides.sandbox
      ? { ...(file.execution ?? {}), sandbox: overrides.sandbox }
      : file.execution;
    // A task's own default timeout (cvdp: 600 s) when the experiment names none.
    const own = task.defaultTimeoutSeconds;
    if (
      own !== undefined &&
      (block === undefined || (typeof block === "object" && block !== null && !("timeout" in block)))
    )
      block = { ...(block ?? {}), timeout: own };
    const parsed = parseExecutionConfig(block);
    execution = resolveExecution(parsed, task.execute ? undefined : () => "local");
    if (task.execute) checkSandboxFields(parsed, execution.sandbox.kind, overrides.sandbox !== undefined);
  } catch (error) {
    if (error instanceof BenchlineError)
      throw new BenchlineError(error.code, `${label}: ${error.message}`, { cause: error });
    throw error;
  }

  const scorerEntries = (file.scorers ?? task.defaultScorers).map(splitNamed);
  const scorers = scorerEntries.map((s, i) => resolveScorer(s.name, s.options, `${label}: scorers[${i}]`));
  for (const [i, s] of scorers.entries()) {
    if (s.scorer.needsExecution && !task.execute)
      throw new BenchlineError(
        "config",
        `${label}: scorers[${i}]: "${s.name}" scores an execution, and task "${task.name}" executes nothing (every row would score 0)`,
      );
  }
  const judges: Record<string, ModelSpec> = {};
  for (const [i, s] of scorers.entries()) {
    const entry = s.scorer.judgeOf?.(s.options);
    if (entry === undefined) continue;
    const parsed = modelEntrySchema.safeParse(entry);
    if (!parsed.success)
      throw new BenchlineError(
        "config",
        `${label}: scorers[${i}].judge: ${formatIssues(parsed.error.issues)}`,
      );
    const spec = modelSpecFromEntry(parsed.data);
    checkModel(spec, `${label}: scorers[${i}].judge`);
    judges[s.name] = spec;
  }
  const seenScorers = new Set<string>();
  for (const [i, s] of scorerEntries.entries()) {
    if (seenScorers.has(s.name)) {
      throw new BenchlineError(
        "config",
        `${label}: scorers[${i}]: "${s.name}" is listed twice (score rows are keyed by scorer name)`,
      );
    }
    seenScorers.add(s.name);
  }

  const name = overrides.name ?? file.name;
  checkExperimentName(name, overrides.name !== undefined ? "--name" : `${label}: name`);
  const out = resolve(overrides.out ?? (file.out !== undefined ? resolve(baseDir, file.out) : "runs"));
  checkOutputDir(out, overrides.out !== undefined ? "--out" : `${label}: out`);
  checkOutputDir(resolve(out, name), "experiment directory");
  // Recorded only once every check has passed: a refused run writes nothing.
  const hashes = new FileHashes(join(out, ".cache", HASH_CACHE));
  const modelLabels: Record<string, string> = {};
  const models = resolveModels(file.models, overrides, label, baseDir, hashes, modelLabels);
  if (overrides.timeout !== undefined && !models.some((m) => modelTakes(m, "timeout") && !m.options.batch))
    throw new BenchlineError(
      "usage",
      `--timeout: no model of this run takes a request timeout (${models.map((m) => `${m.id}: ${m.options.batch ? "batch" : m.provider}`).join(", ")})`,
    );
  const prompts = selectPrompts(
    file.prompts ?? task.promptSets?.(taskOptions) ?? task.defaultPrompts,
    overrides.promptSets,
    label,
  );
  if (Object.keys(prompts).length === 0)
    throw new BenchlineError("config", `${label}: prompts: no prompt set (an experiment needs at least one)`);
  for (const [name, template] of Object.entries(prompts)) {
    for (const field of ["system", "user"] as const) {
      const text = template[field];
      const bad = text === undefined ? undefined : malformedPlaceholder(text);
      if (bad !== undefined)
        throw new BenchlineError(
          "config",
          `${label}: prompts.${name}.${field}: malformed placeholder "${bad}" (write {{field}})`,
        );
    }
  }
  const samplesPerItem = overrides.samples ?? file.samples;
  if (samplesPerItem > MAX_SAMPLES)
    throw new BenchlineError(
      overrides.samples !== undefined ? "usage" : "config",
      `${overrides.samples !== undefined ? "--samples" : `${label}: samples`}: ${samplesPerItem} is more than ${MAX_SAMPLES} completions per item`,
    );

  const hub = hubSettings(process.env, {
    ...(overrides.offline ? { offline: true } : {}),
    ...(overrides.onDownload ? { onProgress: overrides.onDownload } : {}),
  });
  // A hub dataset is downloaded (once) into the cache and read from there like a local file.
  const fromHub = isHubDataset(file.dataset)
    ? await openHubDataset(parseHubDatasetRef(file.dataset, `${label}: dataset`), hub)
    : undefined;
  const datasetPath = fromHub ? fromHub.path : resolve(baseDir, file.dataset as string);
  const datasetLabel = fromHub ? fromHub.label : relativeLabel(datasetPath);
  if (file.fields) checkFieldMap(task, file.fields, `${label}: fields`);
  const limit = overrides.limit ?? file.limit;
  const shard = shardOf(overrides);
  const wanted = overrides.ids ? new Set(overrides.ids) : undefined;
  // Tasks that prepare samples (or specialise them per prompt set) need them all in memory; the
  // common path validates in one streaming pass and keeps only ids, checking placeholders as it goes.
  const keep = task.prepare !== undefined || task.forPromptSet !== undefined;
  const checkRow = placeholderChecker(task, prompts, label, datasetLabel, taskOptions);
  // A local file's hash (part of every trial's identity) is taken in the validation pass: one read.
  const fileHash = fromHub ? undefined : createHash("sha256");
  const { onCheck } = overrides;
  const check = onCheck
    ? { file: datasetLabel, read: 0, total: fileSize(datasetPath), done: false }
    : undefined;
  const onBytes =
    fileHash || check
      ? (chunk: Buffer) => {
          fileHash?.update(chunk);
          if (check && onCheck) {
            check.read += chunk.length;
            onCheck(check);
          }
        }
      : undefined;
  const dataset = await loadSamples(task, datasetPath, {
    ...(onBytes ? { onBytes } : {}),
    label: datasetLabel,
    ...(limit !== undefined ? { limit } : {}),
    ...(wanted ? { ids: wanted } : {}),
    ...(shard ? { shard } : {}),
    keep,
    ...(keep ? {} : { onSample: checkRow }),
    ...(file.fields ? { fields: file.fields } : {}),
  });
  // The whole file has been read (what is checked next works on the rows already kept).
  if (check && onCheck) onCheck({ ...check, read: check.total, done: true });
  const warnings: string[] = [];
  if (wanted) {
    const unknown = dataset.missingIds ?? [];
    if (unknown.length === wanted.size)
      throw new BenchlineError(
        "input",
        `${overrides.idsLabel ?? "--ids"}: none of its ${wanted.size} ids is in ${datasetLabel}`,
      );
    if (unknown.length > 0)
      warnings.push(
        `${overrides.idsLabel ?? "--ids"}: ${unknown.length} ids are not in ${datasetLabel} (${unknown.slice(0, 3).join(", ")}${unknown.length > 3 ? ", …" : ""})`,
      );
  }
  // A templated execution.image (one per instance) is expanded and checked by the task's prepare.
  const { kind: sandboxKind, image, dockerHost } = execution.sandbox;
  const docker = task.execute !== undefined && sandboxKind === "docker";
  let imagesChecked = false;
  if (keep) {
    const samples = dataset.samples ?? [];
    const lines = new Map(samples.map((s) => [s.id, lineOf(dataset, s.id) as number] as const));
    // A task's config errors (`task.images.x: …`) name the field; the file is named here.
    await task
      .prepare?.(samples, taskOptions, {
        baseDir,
        label: datasetLabel,
        lines,
        promptSets: Object.keys(prompts),
        ...(task.execute ? { sandbox: sandboxKind } : {}),
        ...(docker && image !== undefined
          ? {
              image,
              requireImages: async (images: string[]) => {
                imagesChecked = true;
                await requireDockerImages(dockerHost, images);
              },
            }
          : {}),
      })
      .catch((error: unknown) => {
        if (error instanceof BenchlineError && error.code === "config" && !error.message.startsWith(label))
          throw new BenchlineError("config", `${label}: ${error.message}`, { cause: error });
        throw error;
      });
    for (const sample of samples) checkRow(sample, lines.get(sample.id) as number);
  }
  if (docker && isImageTemplate(image) && !imagesChecked)
    throw new BenchlineError(
      "config",
      `${label}: execution.image: ${image} is a template (one image per instance), which the ${task.name} task does not expand; name one image`,
    );
  const sha256 = fromHub ? fromHub.sha256 : fileHash!.digest("hex");
  // Hub model files are downloaded once the dataset has passed its checks.
  await fetchHubModels(models, hub);
  const stats = { ...DEFAULT_STATS, ...stripUndefined(file.stats ?? {}) };
  const beyond = (stats.pass_at_k ?? []).filter((k) => k > samplesPerItem);
  if (beyond.length > 0)
    warnings.push(
      `${label}: stats.pass_at_k ${beyond.join(", ")} exceed${beyond.length === 1 ? "s" : ""} samples (${samplesPerItem}); pass@k needs k ≤ samples, so ${beyond.length === 1 ? "it is" : "they are"} not reported`,
    );
  for (const model of models) {
    if (model.provider === "import")
      await checkImport(
        model,
        baseDir,
        { task, taskOptions, dataset, prompts, samples: samplesPerItem },
        overrides,
        warnings,
      );
  }

  const base = {
    task: { name: task.name, options: taskOptions as Record<string, unknown> },
    dataset: {
      path: fromHub ? `hf:${fromHub.source.hf}` : datasetPath,
      sha256,
      ...(file.fields ? { fields: file.fields } : {}),
      ...(fromHub ? { hub: fromHub.source } : {}),
    },
    scorers: scorerEntries,
    // Only what changes an execution's outcome: not concurrency, not where dockerd listens.
    ...(task.execute ? { execution: executionIdentity(execution) } : {}),
  };
  const trials = expandTrials(base, models, prompts);
  if (stats.baseline !== undefined && !models.some((m) => m.id === stats.baseline))
    throw new BenchlineError(
      "config",
      `${label}: stats.baseline: no model "${stats.baseline}" in this run (models: ${models.map((m) => m.id).join(", ")})`,
    );
  hashes.save();
  return {
    name,
    configPath: loaded.path,
    baseDir,
    dir: resolve(out, name),
    task,
    taskOptions,
    dataset: { ...dataset, sha256, ...(fromHub ? { source: fromHub.label } : {}) },
    samplesPerItem,
    concurrency: overrides.concurrency ?? file.concurrency,
    trialConcurrency: overrides.trialConcurrency ?? file.trial_concurrency,
    ...(limit !== undefined ? { limit } : {}),
    ...(shard ? { shard } : {}),
    stats,
    scorers,
    ...(Object.keys(judges).length > 0 ? { judges } : {}),
    trials,
    execution,
    warnings,
    modelLabels,
  };
}

/**
 * An `import:` model is checked before anything runs: every dataset id needs `samples`
 * completions (missing ids fail unless allowed, then they become error rows); ids the dataset
 * does not have are a warning. The file's content hash joins the trial's identity.
 */
async function checkImport(
  model: ModelSpec,
  baseDir: string,
  run: {
    task: Task<unknown, unknown>;
    taskOptions: unknown;
    dataset: Dataset;
    prompts: Record<string, PromptTemplate>;
    samples: number;
  },
  overrides: Overrides,
  warnings: string[],
): Promise<void> {
  const { dataset, samples } = run;
  const allowMissing = overrides.allowMissing ?? false;
  if (!model.model)
    throw new BenchlineError("config", `model "${model.id}": import needs a file (import:<responses.jsonl>)`);
  const path = resolve(baseDir, model.model);
  const label = relativeLabel(path);
  const responses = await loadResponses(path, label);
  const check = checkResponses(responses, [...dataset.index.keys()], samples);
  const list = (ids: string[]) =>
    `${ids.slice(0, 20).join(", ")}${ids.length > 20 ? `, … (${ids.length - 20} more)` : ""}`;
  if (check.missing.length > 0) {
    if (!allowMissing) {
      throw new BenchlineError(
        "input",
        `${label}: no response for ${check.missing.length} dataset id(s): ${list(check.missing)} (--allow-missing records them as errors)`,
      );
    }
    warnings.push(`${label}: ${check.missing.length} dataset id(s) have no response; recorded as errors`);
  }
  const [first] = check.short;
  if (first) {
    const more = check.short.length > 1 ? ` (and ${check.short.length - 1} more id(s))` : "";
    throw new BenchlineError(
      "input",
      `${label}: id "${first[0]}" needs ${first[1]} completion(s) (samples: ${first[1]}), got ${first[2]}${more}`,
    );
  }
  if (check.unknown > 0)
    warnings.push(`${label}: ${check.unknown} response id(s) are not in the dataset; ignored`);
  if (check.extra > 0)
    warnings.push(
      `${label}: ${check.extra} id(s) have more completions than samples (${samples}); the extra ones are not used (--samples to use them)`,
    );
  // Completions that carry the hash of the prompt they answered must answer this prompt set's.
  const carriesHashes = [...responses.byId.values()].some((rs) =>
    rs.some((r) => r?.prompt_hash !== undefined),
  );
  if (!carriesHashes) return;
  const { task, taskOptions } = run;
  for (const [name, template] of Object.entries(run.prompts)) {
    const hashes = new Map<string, string>();
    for await (const item of readDataset(dataset)) {
      // Tasks whose samples depend on the prompt set (code-edit variants) see that set's.
      const s = task.forPromptSet ? task.forPromptSet(item, name, taskOptions) : item;
      hashes.set(s.id, buildPrompt(task, template, s).prompt_hash);
    }
    const mismatch = findPromptMismatch(responses, hashes, samples);
    if (mismatch) {
      throw new BenchlineError(
        "input",
        `${label}:${mismatch.line}: id "${mismatch.id}" answered another prompt (prompt_hash ${mismatch.got}; prompt set "${name}" gives ${mismatch.want}) — choose the prompt set it was made with (--prompt-set), or drop prompt_hash from the file to use it anyway`,
      );
    }
  }
}

/** More completions per item than this is a typo (`--samples 1e9`), not an experiment. */
export const MAX_SAMPLES = 10_000;

/**
 * An experiment name is one directory under the output root: `..`, `.`, a leading dot (the
 * response cache is `<out>/.cache`) or a separator would put its files somewhere else.
 */
export function checkExperimentName(name: string, where: string): void {
  if (!/^[\w-][\w.-]*$/.test(name) || name.length > 200)
    throw new BenchlineError(
      where === "--name" ? "usage" : "config",
      `${where}: "${name}" cannot be an experiment name: it names one directory under the output root (letters, digits, '.', '_' or '-', not starting with '.')`,
    );
}

/** The output root (and the experiment directory) must be a directory, or not exist yet. */
function checkOutputDir(path: string, what: string): void {
  for (let p = path; ; p = dirname(p)) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      if (dirname(p) === p) return;
      continue;
    }
    if (!isDir)
      throw new BenchlineError(
        "usage",
        `${what}: ${relativeLabel(p)} is a file, not a directory${p === path ? "" : ` (needed for ${relativeLabel(path)})`}`,
      );
    return;
  }
}

function executionIdentity(execution: ResolvedExecution): Record<string, unknown> {
  const { kind, image } = execution.sandbox;
  return {
    sandbox: kind,
    ...(image ? { image } : {}),
    timeout_ms: execution.run.timeoutMs,
    limits: execution.run.limits,
  };
}

function shardOf(overrides: Overrides): { part: number; parts: number } | undefined {
  const { parts, part } = overrides;
  if (parts === undefined && part === undefined) return undefined;
  if (parts === undefined || part === undefined)
    throw new BenchlineError("usage", "--parts and --part go together (e.g. --parts 4 --part 1)");
  if (part < 1 || part > parts)
    throw new BenchlineError("usage", `--part must be between 1 and --parts (${parts}), got ${part}`);
  return { part, parts };
}

function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

/**
 * The models to run, each checked against what its provider honours (errors name the file and
 * `models[i]`), with CLI overrides applied, and models that are files identified by content.
 */
function resolveModels(
  entries: ExperimentFile["models"],
  overrides: Overrides,
  label: string,
  baseDir: string,
  hashes: FileHashes,
  labels: Record<string, string>,
): ModelSpec[] {
  const fromFile = entries.map((entry, i) => ({
    spec: modelSpecFromEntry(entry),
    where: `${label}: models[${i}]`,
  }));
  const ids = new Set<string>();
  for (const { spec } of fromFile) {
    if (ids.has(spec.id))
      throw new BenchlineError(
        "config",
        `${label}: models: two models have the id "${spec.id}" (give one an "id")`,
      );
    ids.add(spec.id);
  }
  const wanted = overrides.models;
  const chosen = overrides.modelSpecs
    ? overrides.modelSpecs.map((spec) => ({ spec, where: `model "${spec.id}"` }))
    : wanted && wanted.length > 0
      ? [...new Set(wanted)].map(
          (w) =>
            fromFile.find((m) => m.spec.id === w) ?? { spec: modelSpecFromEntry(w), where: `--model ${w}` },
        )
      : fromFile;
  return chosen.map(({ spec: entry, where }) => {
    let spec = entry;
    if (overrides.batch && spec.options.batch === undefined) {
      if (!modelTakes(spec, "batch")) throw noBatchApi(spec);
      spec = { ...spec, options: { ...spec.options, batch: true } };
    }
    checkModel(spec, where);
    labels[spec.id] = where;
    const model: ModelSpec =
      overrides.timeout !== undefined && modelTakes(spec, "timeout") && !spec.options.batch
        ? { ...spec, options: { ...spec.options, timeout: overrides.timeout } }
        : { ...spec };
    const path = isHubModel(model.model) ? undefined : modelFile(model, baseDir);
    if (path !== undefined) {
      if (!existsSync(path))
        throw new BenchlineError(
          "not_found",
          `${fieldOf(where, "model")}: ${relativeLabel(path)}: file not found`,
        );
      if (!statSync(path).isFile())
        throw new BenchlineError(
          "input",
          `${fieldOf(where, "model")}: ${relativeLabel(path)}: is a directory, expected ${model.provider === "import" ? "a JSON Lines file" : "a file"}`,
        );
      model.sha256 = hashes.of(path);
    }
    return model;
  });
}

/**
 * Models whose file is a hub id (`llamacpp:hf:owner/repo/file.gguf`), also a guided model's base or
 * oracle: downloaded once, identified by content.
 */
async function fetchHubModels(models: ModelSpec[], hub: HubSettings): Promise<void> {
  for (const [i, model] of models.entries()) {
    for (const { role, model: file } of guidedHubModels(model)) {
      const got = await fetchHubModel(file, hub, `model "${model.id}": ${role}`);
      models[i] = withHubFile(models[i] as ModelSpec, role, got);
    }
    if (!isHubModel(model.model) || !modelFile(model, "")) continue;
    if (model.provider !== "llamacpp")
      throw new BenchlineError(
        "config",
        `model "${model.id}": hub ids (hf:…) name GGUF files for llamacpp models, not ${model.provider} files`,
      );
    const file = await fetchHubModel(model.model as string, hub, `model "${model.id}"`);
    model.path = file.path;
    model.sha256 = file.sha256;
  }
}

function selectPrompts(
  all: Record<string, PromptTemplate>,
  wanted: string[] | undefined,
  label: string,
): Record<string, PromptTemplate> {
  if (!wanted || wanted.length === 0) return all;
  const out: Record<string, PromptTemplate> = {};
  for (const name of wanted) {
    const template = all[name];
    if (!template) {
      throw new BenchlineError(
        "usage",
        `${label}: no prompt set "${name}" (available: ${Object.keys(all).join(", ")})`,
      );
    }
    out[name] = template;
  }
  return out;
}

/**
 * The experiment as one trial sees it: for tasks whose samples depend on the prompt set
 * (code-edit variants), each sample specialised to the trial's prompt set.
 */
export function trialView(exp: ResolvedExperiment, trial: Trial): ResolvedExperiment {
  const forPromptSet = exp.task.forPromptSet;
  if (!forPromptSet) return exp;
  const name = trial.spec.prompt_set.name;
  // Tasks with forPromptSet hold their samples (resolveExperiment keeps them).
  const samples = (exp.dataset.samples ?? []).map((s) => forPromptSet(s, name, exp.taskOptions));
  return { ...exp, dataset: { ...exp.dataset, samples } };
}

/** Variables a prompt template sees for a sample. */
export function promptVars(task: Task<unknown, unknown>, sample: Sample): Record<string, unknown> {
  return task.promptVars?.(sample) ?? { ...sample.metadata, ...sample.input, id: sample.id };
}

/**
 * Checks one sample against every placeholder of every prompt set: a placeholder without a value
 * is a config error naming the prompt set, the dataset line and the id.
 */
function placeholderChecker(
  task: Task<unknown, unknown>,
  prompts: Record<string, PromptTemplate>,
  label: string,
  datasetLabel: string,
  taskOptions: unknown,
): (sample: Sample, line: number) => void {
  const checks: { name: string; field: "system" | "user"; names: string[] }[] = [];
  for (const [name, template] of Object.entries(prompts)) {
    for (const field of ["system", "user"] as const) {
      const text = template[field];
      const names = text === undefined ? [] : placeholders(text);
      if (names.length > 0) checks.push({ name, field, names });
    }
  }
  return (sample, line) => {
    for (const { name, field, names } of checks) {
      const view = task.forPromptSet?.(sample, name, taskOptions) ?? sample;
      const missing = firstMissing(names, promptVars(task, view));
      if (missing !== undefined) {
        throw new BenchlineError(
          "config",
          `${label}: prompts.${name}.${field}: {{${missing}}} has no value in ${datasetLabel}:${line} (id "${sample.id}")`,
        );
      }
    }
  };
}

/** A path as the user would write it: relative to the working directory when inside it. */
export function relativeLabel(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

/**
 * Settings only one sandbox kind honours are refused under the others before anything is written
 * or paid for (not per execution, after inference).
 */
function checkSandboxFields(block: ExecutionConfig, kind: SandboxKind, fromFlag: boolean): void {
  if (kind === "docker") return;
  const chosen = fromFlag
    ? `--sandbox ${kind}`
    : block.sandbox
      ? `sandbox: ${kind}`
      : `the detected sandbox (${kind})`;
  if (block.disk_mb !== undefined)
    throw new BenchlineError(
      "config",
      `execution.disk_mb: ${chosen} cannot cap disk use; use sandbox: docker or remove disk_mb`,
    );
  for (const field of ["image", "docker_host"] as const) {
    if (block[field] !== undefined)
      throw new BenchlineError(
        "config",
        `execution.${field}: only the docker sandbox uses it, and this run uses ${chosen}; use sandbox: docker or remove ${field}`,
      );
  }
}

/** A file's size in bytes, 0 when it cannot be read (the read that follows names the problem). */
function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
