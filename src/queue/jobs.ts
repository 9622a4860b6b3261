import type {
  GenerateRequest,
  Generation,
  ModelSpec,
  Sample,
  SandboxResult,
  SandboxRunOptions,
  SandboxStep,
} from "../core/index.js";
import { ProviderError } from "../providers/index.js";
import type { SandboxConfig } from "../sandbox/index.js";

/**
 * An inference job: everything a worker needs to make the call with its own provider. It
 * carries the model spec and the prompt, never an API key (specs name the environment
 * variable, `api_key_env`; the worker reads its own environment).
 */
export interface InferenceJob {
  trial: string;
  spec: ModelSpec;
  /** Directory of the experiment file on the coordinator (relative model paths). */
  baseDir: string;
  request: GenerateRequest;
  sample: Sample;
  reference?: string;
}

/**
 * An execution job: one sandbox run (steps, files, limits) in the worker's own sandbox of the
 * configured kind. Host directories (`workdir`, code-edit's prepared trees) cannot travel.
 */
export interface ExecutionJob {
  sandbox: SandboxConfig;
  steps: SandboxStep[];
  options: Omit<SandboxRunOptions, "signal" | "workdir">;
}

/** `worker`: who answered (`<host> pid <pid>`), for the coordinator's progress. */
export type ExecutionResult = ({ ok: true; result: SandboxResult } | { ok: false; error: JobError }) & {
  worker?: string;
};

/** A provider error, carried as data so the coordinator writes the same error row. */
export interface JobError {
  message: string;
  code?: string;
  attempts?: number;
  fatal?: boolean;
  /** A 429's `Retry-After`: the coordinator's scheduler backs off by it, as on one machine. */
  retryAfterMs?: number;
}

export type InferenceResult = ({ ok: true; generation: Generation } | { ok: false; error: JobError }) & {
  worker?: string;
};

export function toJobError(error: unknown): JobError {
  const e = error as {
    message?: unknown;
    code?: unknown;
    attempts?: unknown;
    fatal?: unknown;
    retryAfterMs?: unknown;
  };
  return {
    message: typeof e?.message === "string" ? e.message : String(error),
    ...(typeof e?.code === "string" ? { code: e.code } : {}),
    ...(typeof e?.attempts === "number" ? { attempts: e.attempts } : {}),
    ...(e?.fatal === true ? { fatal: true } : {}),
    ...(typeof e?.retryAfterMs === "number" ? { retryAfterMs: e.retryAfterMs } : {}),
  };
}

export function fromJobError(error: JobError): Error {
  return Object.assign(new Error(error.message), {
    ...(error.code !== undefined ? { code: error.code } : {}),
    ...(error.attempts !== undefined ? { attempts: error.attempts } : {}),
    ...(error.fatal ? { fatal: true } : {}),
  });
}

/**
 * A worker's provider error as the coordinator's scheduler sees it: a ProviderError with the same
 * code, so it retries, backs off (by `Retry-After`), halves the concurrency on a 429 or trips on
 * a fatal error as it would on one machine.
 */
export function fromProviderJobError(error: JobError): Error {
  if (error.code === undefined) return fromJobError(error);
  const out = new ProviderError(
    error.code,
    error.message,
    error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {},
  );
  if (error.attempts !== undefined) out.attempts = error.attempts;
  if (error.fatal) out.fatal = true;
  return out;
}
