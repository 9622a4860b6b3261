import type { ChildProcess, SpawnOptions } from "node:child_process";
import { constants } from "node:os";
import { childProcess } from "../core/builtins.js";
import { abortNote, OutputCollector, timeoutNote } from "./output.js";
import type { StepOutcome } from "./run-steps.js";

/**
 * Child processes in their own process group: spawning, waiting, killing the whole group. Used
 * directly by the local sandbox (one process per step) and by bwrap's sessions.
 */

export interface ProcessSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  outputBytes: number;
  signal?: AbortSignal | undefined;
}

export interface ProcessExit {
  /** The exit code, 128 + N when killed by signal N (the shell's convention). */
  code: number | null;
  /** Set when the process could not be started. */
  error?: Error;
}

/** Starts `file` as the leader of a new process group (setsid), so the group can be killed. */
export function spawnGroup(
  file: string,
  args: string[],
  options: SpawnOptions,
): {
  child: ChildProcess;
  exited: Promise<ProcessExit>;
  closed: Promise<void>;
} {
  const child = childProcess().spawn(file, args, { ...options, detached: true });
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code: exitCode(code, signal) }));
    child.once("error", (error) => resolve({ code: 127, error }));
  });
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  return { child, exited, closed };
}

export function killProcessGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * After the leader exited: kills what is left of its group, then waits for the output pipes to
 * close, at most `drainMs` (a process that left the group may hold them open).
 */
export async function reapGroup(child: ChildProcess, closed: Promise<void>, drainMs = 500): Promise<void> {
  killProcessGroup(child.pid);
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, drainMs).unref())]);
  for (const stream of child.stdio) stream?.destroy();
}

/** One command with a wall-clock timeout and capped output; the group is killed when it ends. */
export async function runProcess(spec: ProcessSpec): Promise<StepOutcome> {
  const started = performance.now();
  const stdout = new OutputCollector(spec.outputBytes);
  const stderr = new OutputCollector(spec.outputBytes);
  const { child, exited, closed } = spawnGroup(spec.file, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));

  let stopped: "timeout" | "abort" | undefined;
  const stop = (reason: "timeout" | "abort") => {
    stopped ??= reason;
    killProcessGroup(child.pid);
  };
  const timer = setTimeout(() => stop("timeout"), spec.timeoutMs);
  const onAbort = () => stop("abort");
  if (spec.signal?.aborted) onAbort();
  else spec.signal?.addEventListener("abort", onAbort, { once: true });
  const exit = await exited;
  clearTimeout(timer);
  spec.signal?.removeEventListener("abort", onAbort);
  await reapGroup(child, closed);

  let errText = stderr.text();
  if (exit.error) errText += `${exit.error.message}\n`;
  if (stopped === "timeout") errText += timeoutNote(spec.timeoutMs);
  if (stopped === "abort") errText += abortNote;
  return {
    exit_code: stopped ? null : exit.code,
    stdout: stdout.text(),
    stderr: errText,
    duration_ms: Math.round(performance.now() - started),
    timed_out: stopped === "timeout",
    aborted: stopped === "abort",
  };
}

function exitCode(code: number | null, signal: NodeJS.Signals | null): number | null {
  if (code !== null) return code;
  if (signal !== null) return 128 + (constants.signals[signal] ?? 0);
  return null;
}
