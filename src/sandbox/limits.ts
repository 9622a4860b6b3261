import type { SandboxLimits } from "../core/index.js";

/** Limits with every default filled in; `cpuSeconds` stays unset unless asked for. */
export interface ResolvedLimits {
  memoryMb: number;
  pids: number;
  fileSizeMb: number;
  outputBytes: number;
  cpuSeconds?: number;
  diskMb?: number;
}

export const defaultLimits: ResolvedLimits = {
  memoryMb: 1024,
  pids: 256,
  fileSizeMb: 256,
  outputBytes: 64 * 1024,
};

/** Cap on one file read back with `collect`. */
export const collectBytes = 1024 * 1024;

/** The standard PATH inside sandboxes that do not inherit the host's. */
export const standardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function resolveLimits(limits: SandboxLimits = {}): ResolvedLimits {
  const resolved: ResolvedLimits = {
    memoryMb: limits.memoryMb ?? defaultLimits.memoryMb,
    pids: limits.pids ?? defaultLimits.pids,
    fileSizeMb: limits.fileSizeMb ?? defaultLimits.fileSizeMb,
    outputBytes: limits.outputBytes ?? defaultLimits.outputBytes,
  };
  if (limits.cpuSeconds !== undefined) resolved.cpuSeconds = limits.cpuSeconds;
  if (limits.diskMb !== undefined) resolved.diskMb = limits.diskMb;
  return resolved;
}

/**
 * The whole environment of a sandboxed command: built from scratch, never from the host's
 * `process.env`, so API keys and tokens of the harness cannot leak into a run.
 */
export function sandboxEnv(
  home: string,
  path: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { PATH: path, HOME: home, LANG: "C.UTF-8", TMPDIR: "/tmp", ...extra };
}
