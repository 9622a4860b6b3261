export type { RunOptions } from "./context.js";
export type { EventSink, PhaseName, RunEvent } from "./events.js";
export { trialFiles } from "./files.js";
export { buildPrompt } from "./phases/prompts.js";
export { type ExperimentManifest, summarizeTrialDir, writeReports } from "./phases/report.js";
export { type Overrides, type ResolvedExperiment, relativeLabel, resolveExperiment } from "./resolve.js";
export { PHASES, type PhaseSelection, type RunResult, runExperiment } from "./run.js";
export { VERSION } from "./version.js";
