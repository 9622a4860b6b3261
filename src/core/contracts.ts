/**
 * The interfaces phases implement. They live in core/ so that a phase folder (providers/, tasks/,
 * sandbox/, scoring/) depends on core/ only; pipeline/ wires implementations together.
 */
import type { z } from "zod";
import type { Execution, Message, Sample, StepResult, Usage } from "./records.js";

// ---------------------------------------------------------------- providers

export interface GenerateRequest {
  /** Chat messages (system + user). */
  messages: Message[];
  /** The same prompt flattened to text, for raw completion endpoints. */
  prompt: string;
  /** How many completions are wanted; they become samples `sampleIndices[i]`. */
  n: number;
  sampleIndices: number[];
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  stop?: string[];
  seed?: number;
  top_logprobs?: number;
}

export interface Completion {
  text: string;
  finish_reason?: string;
  /** Anything else the provider wants stored on the prediction row (logprobs, ...). */
  extras?: Record<string, unknown>;
}

export interface Generation {
  /** One per requested sample, in `sampleIndices` order. */
  completions: Completion[];
  /** Usage for the whole request; split evenly across its completions when recorded. */
  usage?: Usage;
  cost_usd?: number;
  attempts?: number;
  cached?: boolean;
}

/** A failed attempt that the scheduler will try again after `wait_ms`. */
export interface RetryInfo {
  /** The attempt that failed (1 = the first). */
  attempt: number;
  wait_ms: number;
  code: string;
  message: string;
}

export interface GenerateContext {
  /** Aborts the request, even one already sent (Ctrl-C). */
  signal: AbortSignal;
  /** Told about every retry (for the JSON log); scheduled providers call it. */
  onRetry?: (retry: RetryInfo) => void;
  /**
   * Once aborted, no new attempt is sent (a request still waiting for a concurrency slot, the
   * rate limit or a retry gives up with code `aborted`); an attempt already sent completes.
   * `--max-cost` uses it: what was paid for is still received and recorded.
   */
  stopNew?: AbortSignal;
  /** The reference answer as text (from the task), for the `gold` provider. */
  reference?: string;
  sample: Sample;
  /**
   * Given by the scheduler to a provider that declares `timesOut`: the provider fails each HTTP
   * request that has no complete answer within this many ms with code `timeout`.
   */
  timeoutMs?: number;
}

export interface Provider {
  /** The model label recorded on every prediction, e.g. `gold` or `openai:gpt-4o-mini`. */
  readonly id: string;
  generate(request: GenerateRequest, context: GenerateContext): Promise<Generation>;
  /**
   * The provider enforces `context.timeoutMs` itself and settles as soon as `context.signal`
   * aborts, so the scheduler sends each attempt without a timer and an abort signal of its own.
   */
  readonly timesOut?: boolean;
  /**
   * The prompt's length in the model's own tokens (a tokenizer package, a server's tokenize
   * endpoint), or undefined when none is known: prompts are then fitted by an estimate.
   */
  countTokens?(
    messages: readonly Message[],
    prompt: string,
    signal?: AbortSignal,
  ): Promise<TokenCount | undefined>;
  close?(): Promise<void>;
}

export interface TokenCount {
  tokens: number;
  /** What counted: an encoding name (`o200k_base`), or `server`. */
  tokenizer: string;
}

// ---------------------------------------------------------------- sandboxes

export interface SandboxStep {
  name: string;
  command: string;
  /** Per-step timeout; defaults to the run's timeout. */
  timeoutMs?: number;
}

export interface SandboxLimits {
  memoryMb?: number;
  pids?: number;
  cpuSeconds?: number;
  fileSizeMb?: number;
  /**
   * Total size in MB of everything the run writes to its work dir and /tmp (docker: both are
   * size-limited tmpfs mounts, whose pages also count against memoryMb). Sandboxes that cannot
   * enforce it (local, bwrap) refuse it.
   */
  diskMb?: number;
  /** Cap on captured stdout/stderr per step; the excess is dropped and the truncation recorded. */
  outputBytes?: number;
}

export interface SandboxRunOptions {
  /** Files to write into the work dir before the first step (relative path -> content). */
  files?: Record<string, string>;
  /**
   * An existing host directory to run in instead of a fresh empty work dir (code-edit's prepared
   * repository tree). The caller owns it: it is not deleted, and `files` are still written into it.
   * Sandboxes that cannot reach host directories (docker) refuse it.
   */
  workdir?: string;
  /**
   * Directories of the work dir that also appear at other absolute paths inside the sandbox (CVDP
   * harnesses expect `/code/rtl`, `/src`, ...). Sandboxes that cannot bind (local) refuse them.
   */
  binds?: SandboxBind[];
  env?: Record<string, string>;
  /**
   * The image of this run instead of the sandbox's own (docker: a CVDP service's mapped image).
   * Sandboxes without images (local, bwrap) refuse it.
   */
  image?: string;
  /**
   * Run the steps in this directory of the image (code-edit: `/testbed`, where SWE-bench images
   * keep the repository) as the image's own user, instead of in the fresh work dir as an
   * unprivileged user; `files` still go to the work dir. Sandboxes without images refuse it.
   */
  imageWorkdir?: string;
  timeoutMs: number;
  limits?: SandboxLimits;
  /** Stop at the first step whose exit code is not 0 (default false: run every step). */
  stopOnFailure?: boolean;
  /** Files to read back from the work dir after the last step. */
  collect?: string[];
  signal?: AbortSignal;
}

export interface SandboxBind {
  /** A directory relative to the work dir (created when missing). */
  source: string;
  /** An absolute path inside the sandbox. */
  target: string;
  readOnly?: boolean;
}

export interface SandboxResult {
  steps: StepResult[];
  files?: Record<string, string>;
}

export interface Sandbox {
  readonly name: string;
  /** Runs steps in one fresh sandbox that is destroyed afterwards. */
  run(steps: SandboxStep[], options: SandboxRunOptions): Promise<SandboxResult>;
  /** Checks once, before the first run, that runs can work (e.g. the docker daemon answers); throws a BenchlineError saying what to fix. */
  start?(): Promise<void>;
  close?(): Promise<void>;
}

// ---------------------------------------------------------------- tasks

export interface PromptTemplate {
  system?: string | undefined;
  user: string;
}

export interface ExecutionOutcome {
  steps: StepResult[];
  passed: boolean;
  /** Task-specific fields stored on the execution row. */
  extras?: Record<string, unknown>;
}

export interface ExecuteContext<Options> {
  sandbox: Sandbox;
  options: Options;
  timeoutMs: number;
  limits?: SandboxLimits;
  signal?: AbortSignal;
}

/**
 * A benchmark: how dataset rows become samples, prompts, artifacts and (optionally) executions.
 * Declare with `defineTask`.
 */
export interface Task<Row = unknown, Options = Record<string, never>, Artifact = unknown> {
  readonly name: string;
  readonly description: string;
  /** Schema of one dataset row. */
  readonly row: z.ZodType<Row>;
  /** Schema of the task's options in the experiment file (`task: {name, ...options}`). */
  readonly options?: z.ZodType<Options>;
  /** Prompt sets used when the experiment file declares none. */
  readonly defaultPrompts: Record<string, PromptTemplate>;
  /** Scorers used when the experiment file names none. */
  readonly defaultScorers: string[];
  /** A dataset row (and its 1-based line) to a sample. Ids come from the row, else a content hash. */
  toSample(row: Row, line: number): Sample;
  /** What the `gold` provider answers: a completion that must score 100%. */
  reference(sample: Sample): string | undefined;
  /** Where a prompt longer than the model's context loses text (default "middle"). */
  readonly truncation?: import("./truncate.js").TruncationPolicy;
  /** Variables available to `{{field}}` placeholders (default: id, input fields, metadata). */
  promptVars?(sample: Sample): Record<string, unknown>;
  /**
   * A completion to the artifact that is scored or executed. `prediction` is the stored row (its
   * provider extras, e.g. an imported SWE-bench `model_patch`), when there is one.
   */
  parse(completion: string, sample: Sample, options: Options, prediction?: Record<string, unknown>): Artifact;
  execute?(artifact: Artifact, sample: Sample, context: ExecuteContext<Options>): Promise<ExecutionOutcome>;
  /**
   * Why this task's executions must run on this machine (code-edit: repository trees prepared
   * here); `run --queue` then refuses to send its execution phase to workers, up front.
   */
  readonly localExecution?: string;
  /** The execution timeout in seconds when the experiment sets no `execution.timeout` (cvdp: 600). */
  readonly defaultTimeoutSeconds?: number;
  /**
   * Async work on the loaded samples before anything is written or any model is called (code-edit
   * reads repositories and builds every prompt set's prompts). Throws a BenchlineError naming the
   * file, line and field of a bad row.
   */
  prepare?(samples: Sample[], options: Options, context: PrepareContext): Promise<void>;
  /** Prompt sets that follow from the options (used when the experiment file declares none). */
  promptSets?(options: Options): Record<string, PromptTemplate>;
  /** More fields for `benchline export` lines (code-edit: EditBench's infbench fields). */
  exportFields?(sample: Sample): Record<string, unknown>;
  /** The whole `benchline export` line in another tool's shape (cvdp: `{id, prompt, system, user}`). */
  exportLine?(line: ExportLine, sample: Sample): Record<string, unknown>;
  /** The sample as the trial of one prompt set sees it (code-edit: that variant's prompt and reference). */
  forPromptSet?(sample: Sample, promptSet: string, options: Options): Sample;
}

/** A `benchline export` line as benchline writes it. */
export interface ExportLine {
  id: string;
  prompt: string;
  system: string | null;
  user: string | null;
  messages: Message[];
  [field: string]: unknown;
}

export interface PrepareContext {
  /** Directory of the experiment file: relative paths in options resolve against it. */
  baseDir: string;
  /** The dataset as named in messages, and each sample's 1-based line. */
  label: string;
  lines: ReadonlyMap<string, number>;
  /** Names of the prompt sets the trials use. */
  promptSets: string[];
  /** The execution sandbox's kind (`bwrap`, `docker`, `local`) for tasks that execute. */
  sandbox?: string;
  /** docker: `execution.image` as written (it may be a template such as `sweb.eval.x86_64.{instance_id}`). */
  image?: string;
  /**
   * docker: checks that every image is on the daemon; throws one config error listing the missing
   * ones. A task that expands a templated `execution.image` must call it (else the template is
   * rejected as unused).
   */
  requireImages?(images: string[]): Promise<void>;
}

/** Any task, whatever its row, option and artifact types (for registries). */
// biome-ignore lint/suspicious/noExplicitAny: registries hold tasks of every type
export type AnyTask = Task<any, any, any>;

// ---------------------------------------------------------------- scorers

export interface ScoreInput {
  sample: Sample;
  completion: string;
  artifact: unknown;
  execution?: Execution;
  /** The model a scorer named as its judge (`judgeOf`), when it names one: messages in, text out. */
  judge?: Judge;
}

/** Asks the judge model once; resolves with its text, rejects when the request fails. */
export type Judge = (messages: Message[]) => Promise<string>;

export interface ScoreResult {
  value: number;
  passed: boolean;
  detail?: unknown;
}

export interface Scorer<Options = unknown> {
  readonly name: string;
  readonly description: string;
  readonly options?: z.ZodType<Options>;
  score(input: ScoreInput, options: Options): ScoreResult | Promise<ScoreResult>;
  /** The model entry (as in `models:`) this scorer's options name as judge, if any. */
  judgeOf?(options: Options): unknown;
  /** Scores the execution record, so it is refused on a task that executes nothing. */
  readonly needsExecution?: boolean;
}

// ---------------------------------------------------------------- model specs

/** Sampling parameters a model entry may set; they are part of the trial's identity. */
export interface SamplingParams {
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  stop?: string[];
  seed?: number;
  top_logprobs?: number;
}

/**
 * A model entry resolved from the experiment file or a `--model` spec string.
 * `options` holds provider-specific settings (base_url, api keys, timeouts, rate limits, paths,
 * prices); which keys a provider accepts is the provider's business.
 */
export interface ModelSpec {
  /** Label recorded on predictions and used for the trial directory slug. */
  id: string;
  /** Registry name: gold, echo, openai, vllm, ollama, llamacpp-server, llamacpp, command, import. */
  provider: string;
  /** Model name / path / URL part of the spec, as the provider understands it. */
  model?: string;
  params: SamplingParams;
  options: Record<string, unknown>;
  /** sha256 of the file the model is (command script, GGUF, responses file): its identity, not the path. */
  sha256?: string;
  /** The local file of a model named by hub id (`hf:…`, downloaded into the cache); not its identity. */
  path?: string;
}

export interface ProviderEnv {
  /** Directory of the experiment file: relative paths in options resolve against it. */
  baseDir: string;
  /** Environment variables (normally process.env); never written anywhere. */
  env: Record<string, string | undefined>;
  /**
   * Requests the run keeps in flight to this model when the model sets no `concurrency`: an HTTP
   * provider opens no more connections than that (a request that finds them all busy waits for
   * the one an answer is about to free instead of opening another).
   */
  inFlight?: number;
}

export type ProviderFactory = (spec: ModelSpec, env: ProviderEnv) => Provider;

/** Any scorer, whatever its options type (for registries). */
// biome-ignore lint/suspicious/noExplicitAny: registries hold scorers of every options type
export type AnyScorer = Scorer<any>;
