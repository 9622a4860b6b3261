import { type DockerConnection, dockerCall, dockerJson, dockerStream } from "./docker-api.js";
import { abortNote, OutputCollector, timeoutNote } from "./output.js";
import type { StepOutcome } from "./run-steps.js";

/**
 * One step of the docker sandbox: an `exec` in the running container, output demultiplexed and
 * capped; processes the step leaves behind are killed when it ends. On timeout or abort the whole
 * container is killed (every process of the run dies); the caller starts it again if needed.
 */

/**
 * Runs the command, then kills every other process of the step user (`kill -1` spares the caller
 * and pid 1; the container's idle main process belongs to another user), so background children
 * neither outlive the step nor hold the output stream open.
 */
const stepWrapper = 'sh -c "$1" & wait $!; code=$?; kill -9 -1 2>/dev/null; exit $code';

export interface ExecSpec {
  container: string;
  command: string;
  env: string[];
  user: string;
  workdir: string;
  timeoutMs: number;
  outputBytes: number;
  signal?: AbortSignal | undefined;
}

export async function execStep(connection: DockerConnection, spec: ExecSpec): Promise<StepOutcome> {
  const started = performance.now();
  const { Id: exec } = await dockerJson<{ Id: string }>(connection, {
    method: "POST",
    path: `/containers/${spec.container}/exec`,
    body: {
      Cmd: ["/bin/sh", "-c", stepWrapper, "sh", spec.command],
      Env: spec.env,
      User: spec.user,
      WorkingDir: spec.workdir,
      AttachStdout: true,
      AttachStderr: true,
    },
  });
  const out = {
    stdout: new OutputCollector(spec.outputBytes),
    stderr: new OutputCollector(spec.outputBytes),
  };
  const stream = dockerStream(
    connection,
    { method: "POST", path: `/exec/${exec}/start`, body: { Detach: false, Tty: false } },
    (which, payload) => out[which].push(payload),
  );
  let stopped: "timeout" | "abort" | undefined;
  const kill = (reason: "timeout" | "abort") => {
    stopped ??= reason;
    stream.stop();
    return dockerCall(connection, { method: "POST", path: `/containers/${spec.container}/kill` }).catch(
      () => {},
    );
  };
  const timer = setTimeout(() => void kill("timeout"), spec.timeoutMs);
  const onAbort = () => void kill("abort");
  if (spec.signal?.aborted) onAbort();
  else spec.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await stream.done;
  } finally {
    stream.stop();
    clearTimeout(timer);
    spec.signal?.removeEventListener("abort", onAbort);
  }
  if (stopped) await kill(stopped); // make sure the kill landed before the next step restarts
  const note = stopped === "timeout" ? timeoutNote(spec.timeoutMs) : stopped === "abort" ? abortNote : "";
  return {
    exit_code: stopped ? null : await exitCode(connection, exec),
    stdout: out.stdout.text(),
    stderr: out.stderr.text() + note,
    duration_ms: Math.round(performance.now() - started),
    timed_out: stopped === "timeout",
    aborted: stopped === "abort",
  };
}

/** The exec's exit code; dockerd may record it a moment after the output stream ends. */
async function exitCode(connection: DockerConnection, exec: string): Promise<number | null> {
  for (let attempt = 0; ; attempt++) {
    const info = await dockerJson<{ ExitCode: number | null; Running: boolean }>(connection, {
      method: "GET",
      path: `/exec/${exec}/json`,
    });
    if (!info.Running || attempt >= 40) return info.ExitCode;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
