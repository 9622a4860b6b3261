import {
  BenchlineError,
  type Sandbox,
  type SandboxResult,
  type SandboxRunOptions,
  type SandboxStep,
} from "../core/index.js";
import { resolveLimits, sandboxEnv, standardPath } from "./limits.js";
import { runProcess } from "./process.js";
import { runSteps } from "./run-steps.js";
import { collectFiles, makeTempDir, removeDir, writeFiles } from "./workdir.js";

/**
 * The `local` sandbox: plain `/bin/sh -c` child processes on the host, in a fresh temp dir that is
 * removed afterwards. It does NOT isolate anything: commands see the host's files and network
 * and run as the harness's user. What it does guarantee: a clean environment (no host variables,
 * so no API keys), the wall-clock timeout (the process group is killed), capped output. Resource
 * limits other than the output cap are ignored. Use it only for trusted commands or where
 * bubblewrap and docker are unavailable.
 */

export interface LocalSandboxOptions {
  /** Where run directories are created (default: the OS temp dir). */
  tmpDir?: string | undefined;
  /** PATH for commands (default: the host's PATH, else the standard one). */
  path?: string | undefined;
}

export const localDescription =
  "local: plain child processes on the host, NO isolation (host files and network are reachable)";

export function createLocalSandbox(options: LocalSandboxOptions = {}): Sandbox & { description: string } {
  const path = options.path ?? process.env.PATH ?? standardPath;
  return {
    name: "local",
    description: localDescription,
    async run(steps: SandboxStep[], run: SandboxRunOptions): Promise<SandboxResult> {
      if (run.binds?.length)
        throw new BenchlineError(
          "usage",
          "the local sandbox cannot bind directories (binds); use bwrap or docker",
        );
      if (run.limits?.diskMb !== undefined)
        throw new BenchlineError(
          "usage",
          "the local sandbox cannot cap disk use (execution.disk_mb); use docker",
        );
      if (run.image !== undefined || run.imageWorkdir !== undefined)
        throw new BenchlineError("usage", "the local sandbox has no images (image); use docker");
      const limits = resolveLimits(run.limits);
      const dir = run.workdir ?? (await makeTempDir(options.tmpDir));
      try {
        await writeFiles(dir, run.files);
        const env = sandboxEnv(dir, path, run.env);
        const results = await runSteps(steps, run, (step, timeoutMs) =>
          runProcess({
            file: "/bin/sh",
            args: ["-c", step.command],
            cwd: dir,
            env,
            timeoutMs,
            outputBytes: limits.outputBytes,
            signal: run.signal,
          }),
        );
        if (!run.collect) return { steps: results };
        return { steps: results, files: await collectFiles(dir, run.collect) };
      } finally {
        if (!run.workdir) await removeDir(dir);
      }
    },
  };
}
