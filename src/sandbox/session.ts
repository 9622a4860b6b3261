import type { SandboxStep } from "../core/index.js";
import { abortNote, NOTE_PREFIX, OutputCollector, timeoutNote } from "./output.js";
import { killProcessGroup, reapGroup, spawnGroup } from "./process.js";
import type { StepOutcome } from "./run-steps.js";

/**
 * Runs up to `sessionSteps` steps in ONE sandbox process: a small sh driver runs each step with
 * its own stdout/stderr pipes (fds 4-9), reports `S i` / `E i code` on fd 3, and after each step
 * kills every other process (`kill -9 -1`), so nothing a step starts outlives it. One launch per
 * run instead of one per step makes bwrap about twice as fast.
 *
 * `kill -1` is only safe in a pid namespace of its own: use this for bwrap, never on the host.
 * Step code runs as the driver's uid, so hostile code can disturb the accounting of its own run
 * (like it can rewrite the run's test files); it cannot reach the host or other runs.
 */

/** sh (dash) redirections take one-digit fds only: 3 for control plus two per step. */
export const sessionSteps = 3;

const driver = `stop=$1; shift; i=0
for cmd do
  echo "S $i" >&3
  case $i in
    0) /bin/sh -c "$cmd" >&4 2>&5 3>&- 6>&- 7>&- 8>&- 9>&- </dev/null ;;
    1) /bin/sh -c "$cmd" >&6 2>&7 3>&- 8>&- 9>&- </dev/null ;;
    *) /bin/sh -c "$cmd" >&8 2>&9 3>&- </dev/null ;;
  esac
  code=$?
  kill -9 -1 2>/dev/null
  case $i in 0) exec 4>&- 5>&- ;; 1) exec 6>&- 7>&- ;; *) exec 8>&- 9>&- ;; esac
  echo "E $i $code" >&3
  [ "$stop" = 1 ] && [ "$code" != 0 ] && exit 0
  i=$((i + 1))
done`;

export interface SessionSpec {
  /** The launcher (bwrap) and its arguments; the driver's `/bin/sh -c ...` is appended. */
  file: string;
  args: string[];
  /** Shell code the driver runs first (e.g. `ulimit`s); should exit non-zero on failure. */
  prelude?: string | undefined;
  cwd: string;
  env: Record<string, string>;
  user?: { uid: number; gid: number } | undefined;
  /** At most `sessionSteps` steps. */
  steps: SandboxStep[];
  timeoutMs: number;
  outputBytes: number;
  stopOnFailure: boolean;
  signal?: AbortSignal | undefined;
}

/**
 * Outcomes for the steps that started, in order (at least the first: a launch failure is its
 * outcome). A step still running when the session ended (timeout, abort, or its code killed the
 * driver) is the last one.
 */
export async function runSession(spec: SessionSpec): Promise<StepOutcome[]> {
  const count = Math.min(spec.steps.length, sessionSteps);
  const steps = spec.steps.slice(0, count);
  const { child, exited, closed } = spawnGroup(
    spec.file,
    [
      ...spec.args,
      "/bin/sh",
      "-c",
      `${spec.prelude ?? ""}\n${driver}`,
      "sh",
      spec.stopOnFailure ? "1" : "0",
      ...steps.map((step) => step.command),
    ],
    {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "pipe", "pipe", "pipe", ...steps.flatMap(() => ["pipe", "pipe"] as const)],
      ...(spec.user ?? {}),
    },
  );
  const outputs = steps.map(() => ({
    stdout: new OutputCollector(spec.outputBytes),
    stderr: new OutputCollector(spec.outputBytes),
  }));
  const launcher = new OutputCollector(spec.outputBytes); // bwrap's own errors
  child.stdio[1]?.on("data", (chunk: Buffer) => launcher.push(chunk));
  child.stdio[2]?.on("data", (chunk: Buffer) => launcher.push(chunk));
  outputs.forEach((output, i) => {
    child.stdio[4 + 2 * i]?.on("data", (chunk: Buffer) => output.stdout.push(chunk));
    child.stdio[5 + 2 * i]?.on("data", (chunk: Buffer) => output.stderr.push(chunk));
  });

  const started: number[] = [performance.now()]; // step 0's clock includes the launch
  const ended: number[] = [];
  const codes: number[] = [];
  let stopped: { reason: "timeout" | "abort"; timeoutMs: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const arm = (i: number) => {
    clearTimeout(timer);
    const timeoutMs = steps[i]?.timeoutMs ?? spec.timeoutMs;
    timer = setTimeout(() => {
      stopped ??= { reason: "timeout", timeoutMs };
      killProcessGroup(child.pid);
    }, timeoutMs);
  };
  arm(0);
  let control = "";
  child.stdio[3]?.on("data", (chunk: Buffer) => {
    control += chunk.toString("utf8");
    for (let nl = control.indexOf("\n"); nl !== -1; nl = control.indexOf("\n")) {
      const [kind, index, code] = control.slice(0, nl).split(" ");
      control = control.slice(nl + 1);
      const i = Number(index);
      if (kind === "S" && i > 0) {
        started[i] = performance.now();
        arm(i);
      } else if (kind === "E") {
        ended[i] = performance.now();
        codes[i] = Number(code);
        clearTimeout(timer);
      }
    }
  });
  const onAbort = () => {
    stopped ??= { reason: "abort", timeoutMs: 0 };
    killProcessGroup(child.pid);
  };
  if (spec.signal?.aborted) onAbort();
  else spec.signal?.addEventListener("abort", onAbort, { once: true });

  const exit = await exited;
  if (exit.error) launcher.push(Buffer.from(`${exit.error.message}\n`));
  clearTimeout(timer);
  spec.signal?.removeEventListener("abort", onAbort);
  await reapGroup(child, closed);

  const outcomes: StepOutcome[] = [];
  for (let i = 0; i < count; i++) {
    const output = outputs[i];
    const start = started[i];
    if (!output || start === undefined) break;
    const code = codes[i];
    const end = ended[i] ?? performance.now();
    const outcome: StepOutcome = {
      exit_code: code ?? null,
      stdout: output.stdout.text(),
      stderr: output.stderr.text(),
      duration_ms: Math.round(end - start),
      timed_out: false,
    };
    outcomes.push(outcome);
    if (code !== undefined) continue;
    // The session ended inside this step.
    if (stopped?.reason === "timeout") {
      outcome.timed_out = true;
      outcome.stderr += timeoutNote(stopped.timeoutMs);
    } else if (stopped?.reason === "abort") {
      outcome.aborted = true;
      outcome.stderr += abortNote;
    } else {
      outcome.exit_code = exit.code;
      outcome.stderr += `${launcher.text()}\n${NOTE_PREFIX} the sandbox ended before the step did]\n`;
    }
    break;
  }
  return outcomes;
}
