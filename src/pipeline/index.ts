export { type AnalysisRow, type AnalyzeOptions, analyzeTrial } from "./analyze.js";
export { type CompareOptions, compareTrialDirs } from "./compare.js";
export type { RunOptions } from "./context.js";
export type { EventSink, PhaseName, RunEvent } from "./events.js";
export { exportPrompts } from "./export.js";
export { trialFiles } from "./files.js";
export { type TrialFormat, trialFormats, writeTrialFormat } from "./formats.js";
export { loadIds, parseIds } from "./ids.js";
export { readJson } from "./json.js";
export {
  acquireLock,
  describeOwner,
  type Lock,
  type LockOptions,
  type LockOwner,
  type LockScope,
  lockDirOf,
  type Shard,
  withManifestLock,
} from "./lock.js";
export { type MergeResult, mergeExperiments } from "./merge.js";
export { buildPrompt } from "./phases/prompts.js";
export { type ExperimentManifest, writeReports } from "./phases/report.js";
export {
  type CheckProgress,
  type Overrides,
  type ResolvedExperiment,
  relativeLabel,
  resolveExperiment,
} from "./resolve.js";
export { PHASES, type PhaseSelection, type RunResult, runExperiment } from "./run.js";
export { loadTrialData, type Scope, type TrialData, type TrialManifest } from "./trial-data.js";
export { VERSION } from "./version.js";
