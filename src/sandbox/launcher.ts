import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { childProcess } from "../core/builtins.js";
import { BenchlineError, type SandboxStep } from "../core/index.js";
import { abortNote, NOTE_PREFIX, OutputCollector, timeoutNote } from "./output.js";
import { killProcessGroup } from "./process.js";
import type { StepOutcome } from "./run-steps.js";
import { StreamSplitter } from "./split-stream.js";

/**
 * Warm launchers for bwrap. Node's `spawn` blocks its event loop until the child has exec'd and
 * costs several ms of CPU per call (plus one socket pair per pipe), which capped bwrap at about half
 * the rate of plain `sh`. So a few long-lived `/bin/sh` launchers start the sandboxes instead: each
 * reads `<nonce> <dir>` lines and runs one sandbox at a time, `bwrap ... /bin/sh /.benchline-run`,
 * where `<dir>/run.sh` (written per launch, bound read-only) holds the limits, the environment and
 * the steps. All steps of a run share one stdout and one stderr pipe of the launcher: after each
 * step (and `kill -9 -1`, so nothing of it is left) the driver writes a marker to both, and after
 * the sandbox exits the launcher writes an end marker with the secret nonce (never inside the
 * sandbox, so sandboxed code cannot fake the end of its run) and `X <code> <nonce>` on its events pipe,
 * where the driver reports `S i` / `E i code`. A timeout or abort kills the launcher's process group
 * (the sandbox's pid namespace dies with it); a fresh launcher is started for the next run. A
 * launcher's lifeline pipe (fd 5) is held only by Node: if Node dies, the launcher kills its group.
 * Sandboxed code runs as the driver's uid, so it can disturb the accounting of its own run only.
 */

/** Where `<dir>/run.sh` appears inside the sandbox. */
export const runScriptPath = "/.benchline-run";
export const runScriptFile = "run.sh";

export interface LauncherConfig {
  /** The launch command up to the sandboxed command, as shell words; `"$dir"` is the run dir. */
  command: string;
  /** The environment of the launcher, and so of every sandbox (per-run `env` is added by run.sh). */
  env: Record<string, string>;
  user?: { uid: number; gid: number } | undefined;
}

export interface LaunchSpec {
  /** The run dir; run.sh is written there. */
  dir: string;
  /** Shell code run first inside the sandbox (limits); should exit non-zero on failure. */
  prelude: string;
  env: Record<string, string>;
  steps: SandboxStep[];
  timeoutMs: number;
  outputBytes: number;
  stopOnFailure: boolean;
  signal?: AbortSignal | undefined;
}

/** Launchers started on demand (one per run in flight), kept warm between runs. */
export class LauncherPool {
  private readonly idle: Launcher[] = [];
  private readonly live = new Set<Launcher>();

  constructor(private readonly config: LauncherConfig) {}

  /** Outcomes of the steps that started, in order; the last one may be unfinished (see StepOutcome). */
  async launch(spec: LaunchSpec): Promise<StepOutcome[]> {
    let launcher = this.idle.pop();
    while (launcher && !launcher.alive) launcher = this.idle.pop();
    if (!launcher) {
      launcher = new Launcher(this.config);
      this.live.add(launcher);
    }
    launcher.hold(true);
    try {
      return await launcher.run(spec);
    } finally {
      if (launcher.alive) {
        launcher.hold(false);
        this.idle.push(launcher);
      } else this.live.delete(launcher);
    }
  }

  close(): void {
    for (const launcher of this.live) launcher.kill();
    this.live.clear();
    this.idle.length = 0;
  }
}

// ---------------------------------------------------------------- internal helpers

const launcherScript = (command: string) =>
  [
    "{ read -r _ <&5; kill -9 0; } </dev/null >/dev/null 3>&- 4>&- &",
    "exec 5<&-",
    "while read -r nonce dir; do",
    `  ${command} /bin/sh ${runScriptPath} </dev/null 6>&1 >&3 2>&4 3>&- 4>&-`,
    "  code=$?",
    `  printf '\\036%s\\036' "$nonce" >&3`,
    `  printf '\\036%s\\036' "$nonce" >&4`,
    `  printf '\\nX %s %s\\n' "$code" "$nonce"`,
    "done",
    "kill -9 0",
  ].join("\n");

const driver = `i=0
for cmd do
  echo "S $i" >&6
  /bin/sh -c "$cmd" 6>&- </dev/null
  code=$?
  kill -9 -1 2>/dev/null
  printf '\\036%s:%s\\036' "$tok" "$i"
  printf '\\036%s:%s\\036' "$tok" "$i" >&2
  echo "E $i $code" >&6
  [ "$stop" = 1 ] && [ "$code" != 0 ] && exit 0
  i=$((i + 1))
done`;

/** A string as one single-quoted shell word. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function runScript(spec: LaunchSpec, token: string): string {
  const exports = Object.entries(spec.env).map(([key, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new BenchlineError(
        "input",
        `sandbox environment variable name is not valid: ${JSON.stringify(key)}`,
      );
    }
    return `export ${key}=${shellQuote(value)}`;
  });
  return [
    spec.prelude,
    ...exports,
    `stop=${spec.stopOnFailure ? 1 : 0} tok=${token}`,
    `set -- ${spec.steps.map((step) => shellQuote(step.command)).join(" ")}`,
    driver,
    "",
  ].join("\n");
}

interface Listener {
  events(chunk: Buffer): void;
  out(chunk: Buffer): void;
  err(chunk: Buffer): void;
  gone(): void;
}

class Launcher {
  alive = true;
  private readonly child: ChildProcess;
  private listener: Listener | undefined;
  private closed = false;
  private readonly whenClosed: Promise<void>;

  constructor(config: LauncherConfig) {
    this.child = childProcess().spawn("/bin/sh", ["-c", launcherScript(config.command)], {
      cwd: "/",
      env: config.env,
      detached: true,
      stdio: ["pipe", "pipe", "ignore", "pipe", "pipe", "pipe"],
      ...(config.user ?? {}),
    });
    const stdio = this.child.stdio as unknown as Array<(Readable & Writable) | null>;
    for (const stream of stdio) stream?.on("error", () => {});
    stdio[1]?.on("data", (chunk: Buffer) => this.listener?.events(chunk));
    stdio[3]?.on("data", (chunk: Buffer) => this.listener?.out(chunk));
    stdio[4]?.on("data", (chunk: Buffer) => this.listener?.err(chunk));
    (stdio[5] as { unref?: () => void } | null)?.unref?.(); // the lifeline: never written
    const gone = () => {
      this.alive = false;
      this.listener?.gone();
    };
    this.child.once("exit", gone);
    this.child.once("error", gone);
    this.whenClosed = new Promise((resolve) =>
      this.child.once("close", () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  /** While held, the launcher keeps Node's event loop alive; idle launchers do not. */
  hold(busy: boolean): void {
    const handles = [this.child, ...this.child.stdio.slice(0, 5)] as Array<{
      ref?(): void;
      unref?(): void;
    } | null>;
    for (const handle of handles) (busy ? handle?.ref : handle?.unref)?.call(handle);
  }

  kill(): void {
    this.alive = false;
    killProcessGroup(this.child.pid);
  }

  /** Waits (at most `ms`) for every pipe of a dead launcher to close, so no output is missed. */
  async drained(ms = 1000): Promise<void> {
    if (this.closed) return;
    await Promise.race([this.whenClosed, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
  }

  run(spec: LaunchSpec): Promise<StepOutcome[]> {
    const count = spec.steps.length;
    const nonce = randomBytes(12).toString("hex");
    const token = randomBytes(6).toString("hex");
    writeFileSync(join(spec.dir, runScriptFile), runScript(spec, token));

    const outputs = spec.steps.map(() => ({
      stdout: new OutputCollector(spec.outputBytes),
      stderr: new OutputCollector(spec.outputBytes),
    }));
    const end = Buffer.from(`\x1e${nonce}\x1e`);
    const marker = (i: number) => Buffer.from(`\x1e${token}:${i}\x1e`);
    const longest = Math.max(end.length, marker(count).length);
    const out = new StreamSplitter(marker, end, longest, (i, bytes) => outputs[i]?.stdout.push(bytes));
    const err = new StreamSplitter(marker, end, longest, (i, bytes) => outputs[i]?.stderr.push(bytes));

    const started: number[] = [performance.now()]; // step 0's clock includes the launch
    const ended: number[] = [];
    const codes: number[] = [];
    let exitCode: number | undefined;
    let stopped: { reason: "timeout" | "abort"; timeoutMs: number } | undefined;
    let pending = "";
    let stepTimer: NodeJS.Timeout | undefined;
    const stepTimeout = (i: number) => spec.steps[i]?.timeoutMs ?? spec.timeoutMs;

    return new Promise<StepOutcome[]>((resolve) => {
      let finished = false;
      const stop = (reason: "timeout" | "abort", timeoutMs: number) => {
        stopped ??= { reason, timeoutMs };
        this.kill();
        void this.drained().then(finish);
      };
      const arm = (i: number) => {
        clearTimeout(stepTimer);
        stepTimer = setTimeout(() => stop("timeout", stepTimeout(i)), stepTimeout(i));
      };
      // Forged `S`/`E` lines cannot stretch a run: it ends at the sum of its step timeouts.
      const total = spec.steps.reduce((sum, _, i) => sum + stepTimeout(i), 0);
      const deadline = setTimeout(() => stop("timeout", stepTimeout(Math.max(0, started.length - 1))), total);
      const onAbort = () => stop("abort", 0);

      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(stepTimer);
        clearTimeout(deadline);
        spec.signal?.removeEventListener("abort", onAbort);
        this.listener = undefined;
        if (!out.ended) out.flush();
        if (!err.ended) err.flush();
        resolve(outcomes());
      };
      const maybeDone = () => {
        if (exitCode !== undefined && out.ended && err.ended) finish();
      };
      const line = (text: string) => {
        const [kind, a, b] = text.split(" ");
        const i = Number(a);
        if (kind === "S" && i === started.length && i < count) {
          started[i] = performance.now();
          arm(i);
        } else if (
          kind === "E" &&
          Number.isInteger(i) &&
          started[i] !== undefined &&
          ended[i] === undefined
        ) {
          ended[i] = performance.now();
          codes[i] = Number(b);
          clearTimeout(stepTimer);
        } else if (kind === "X" && b === nonce) {
          exitCode = Number(a);
          maybeDone();
        }
      };
      this.listener = {
        events: (chunk) => {
          const lines = (pending + chunk.toString("latin1")).split("\n");
          pending = (lines.pop() ?? "").slice(-256);
          for (const text of lines) line(text);
        },
        out: (chunk) => {
          out.push(chunk);
          maybeDone();
        },
        err: (chunk) => {
          err.push(chunk);
          maybeDone();
        },
        gone: () => void this.drained().then(finish),
      };
      arm(0);
      if (spec.signal?.aborted) onAbort();
      else spec.signal?.addEventListener("abort", onAbort, { once: true });
      if (!this.alive) this.listener.gone();
      else (this.child.stdin as Writable).write(`${nonce} ${spec.dir}\n`);
    });

    function outcomes(): StepOutcome[] {
      const results: StepOutcome[] = [];
      const now = performance.now();
      for (let i = 0; i < count; i++) {
        const output = outputs[i];
        const start = started[i];
        if (!output || start === undefined) break;
        const code = codes[i];
        const outcome: StepOutcome = {
          exit_code: code ?? null,
          stdout: output.stdout.text(),
          stderr: output.stderr.text(),
          duration_ms: Math.round((ended[i] ?? now) - start),
          timed_out: false,
        };
        results.push(outcome);
        if (code !== undefined) continue;
        // The sandbox ended inside this step.
        if (stopped?.reason === "timeout") {
          outcome.timed_out = true;
          outcome.stderr += timeoutNote(stopped.timeoutMs);
        } else if (stopped?.reason === "abort") {
          outcome.aborted = true;
          outcome.stderr += abortNote;
        } else {
          outcome.exit_code = exitCode ?? null;
          outcome.stderr += `\n${NOTE_PREFIX} the sandbox ended before the step did]\n`;
        }
        break;
      }
      return results;
    }
  }
}
