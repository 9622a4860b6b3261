import type { Trial } from "../config/index.js";
import type { Provider, Sandbox } from "../core/index.js";
import type { EventSink } from "./events.js";
import type { TrialFiles } from "./files.js";
import type { ResolvedExperiment } from "./resolve.js";

export interface RunOptions {
  /** Retry rows whose last status is `error` (default true). */
  retryErrors?: boolean;
  signal?: AbortSignal;
  onEvent?: EventSink;
  /** Provider override per trial (tests, import); default: the registry. */
  createProvider?: (trial: Trial) => Provider;
  /** Sandbox for tasks that execute. */
  sandbox?: Sandbox;
}

/** What every phase of one trial gets. */
export interface TrialContext {
  exp: ResolvedExperiment;
  trial: Trial;
  files: TrialFiles;
  emit: EventSink;
  signal: AbortSignal;
  retryErrors: boolean;
}
