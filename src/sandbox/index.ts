/**
 * Sandboxes run a task's steps (shell commands) in one fresh, throw-away environment per run:
 * `bwrap` (bubblewrap namespaces, the default where it works), `docker` (a container per run via
 * the Engine API) and `local` (plain child processes, NO isolation). All pass the same contract
 * suite (test-utils/contract.ts); the isolating ones also the containment suite.
 */
export { type BwrapSandboxOptions, bwrapWorkPath, createBwrapSandbox, isBwrapUsable } from "./bwrap.js";
export {
  createDockerSandbox,
  type DockerSandboxOptions,
  dockerWorkPath,
  isImageTemplate,
  requireDockerImages,
} from "./docker.js";
export { DockerApiError } from "./docker-api.js";
export {
  type ExecutionConfig,
  executionConfigSchema,
  executionDefaults,
  parseExecutionConfig,
  type ResolvedExecution,
  resolveExecution,
} from "./execution-config.js";
export { defaultLimits, type ResolvedLimits, resolveLimits } from "./limits.js";
export { createLocalSandbox, type LocalSandboxOptions } from "./local.js";
export { isTruncated } from "./output.js";
export { SandboxPool } from "./pool.js";
export {
  createSandbox,
  defaultSandboxKind,
  type SandboxConfig,
  type SandboxKind,
  type SandboxKindEntry,
  type SandboxSettings,
  sandboxKinds,
} from "./registry.js";
export { SandboxAbortedError } from "./run-steps.js";
