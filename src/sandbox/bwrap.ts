import { lstatSync, mkdirSync, readlinkSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { childProcess } from "../core/builtins.js";
import {
  BenchlineError,
  type Sandbox,
  type SandboxBind,
  type SandboxResult,
  type SandboxRunOptions,
  type SandboxStep,
} from "../core/index.js";
import { LauncherPool, runScriptFile, runScriptPath, shellQuote } from "./launcher.js";
import { type ResolvedLimits, resolveLimits, sandboxEnv, standardPath } from "./limits.js";
import { runStepBatches } from "./run-steps.js";
import {
  chownTreeSync,
  collectFiles,
  makeTempDirSync,
  type Owner,
  removeDir,
  writeFilesSync,
} from "./workdir.js";

/**
 * The `bwrap` sandbox: steps run under bubblewrap in fresh namespaces (user, pid, net, ipc, uts,
 * cgroup: no network at all) on a read-only view of /usr and /etc, with a private writable work
 * dir at /sandbox and a private /tmp, both kept across the steps of one run and deleted after it.
 * The host's home and every other host path are simply absent. One launch runs all the steps
 * (launcher.ts: warm launchers start the sandboxes, so Node does not spawn per run); whatever a step
 * leaves running is killed when it ends. When the harness runs as
 * root, bwrap is started as an unprivileged uid (65534), so sandboxed code is that uid on the
 * host, without capabilities (bwrap also sets no_new_privs). rlimits cap memory (data segment),
 * processes, CPU time and file size.
 */

export interface BwrapSandboxOptions {
  bwrapPath?: string | undefined;
  /** Where run directories are created (default: the OS temp dir); must be reachable by `uid`. */
  tmpDir?: string | undefined;
  /** More host paths bound read-only at the same place (e.g. a toolchain under /opt). */
  readOnlyPaths?: string[] | undefined;
  /** The unprivileged uid/gid sandboxed code runs as (default 65534, nobody). */
  uid?: number | undefined;
  gid?: number | undefined;
}

export const bwrapDescription =
  "bwrap: bubblewrap namespaces, read-only /usr and /etc, no network, unprivileged uid, rlimits";

/** Where the work dir appears inside the sandbox. */
export const bwrapWorkPath = "/sandbox";

export function createBwrapSandbox(options: BwrapSandboxOptions = {}): Sandbox & { description: string } {
  const owner: Owner = { uid: options.uid ?? 65534, gid: options.gid ?? 65534 };
  const asRoot = process.getuid?.() === 0;
  const bwrap = options.bwrapPath ?? "/usr/bin/bwrap";
  const readOnlyPaths = options.readOnlyPaths ?? [];
  // The launch command is fixed per sandbox; `"$dir"` is each run's directory (launcher.ts).
  const dir = "\u0000dir";
  // One pool of launchers per set of binds (the binds are part of the fixed launch command).
  const pools = new Map<string, LauncherPool>();
  const launchersFor = (binds: SandboxBind[]): LauncherPool => {
    const key = JSON.stringify(binds);
    let pool = pools.get(key);
    if (!pool) {
      const args = [
        bwrap,
        ...rootfsArgs(),
        ...mountArgs(
          `${dir}/work`,
          `${dir}/tmp`,
          owner,
          readOnlyPaths,
          `${dir}/${runScriptFile}`,
          binds,
          dir,
        ),
      ];
      pool = new LauncherPool({
        command: args
          .map((arg) =>
            arg.startsWith(dir) ? `"$dir"${shellQuote(arg.slice(dir.length))}` : shellQuote(arg),
          )
          .join(" "),
        env: sandboxEnv(bwrapWorkPath, standardPath),
        user: asRoot ? owner : undefined,
      });
      pools.set(key, pool);
    }
    return pool;
  };
  return {
    name: "bwrap",
    description: bwrapDescription,
    async run(steps: SandboxStep[], run: SandboxRunOptions): Promise<SandboxResult> {
      if (run.limits?.diskMb !== undefined)
        throw new BenchlineError(
          "usage",
          "the bwrap sandbox cannot cap disk use (execution.disk_mb); use docker",
        );
      if (run.image !== undefined || run.imageWorkdir !== undefined)
        throw new BenchlineError(
          "usage",
          "the bwrap sandbox runs the host's tools, not images (image); use docker",
        );
      const limits = resolveLimits(run.limits);
      // Synchronous file system calls: a few µs each, far cheaper than a thread-pool round trip.
      const dir = makeTempDirSync(options.tmpDir);
      try {
        // A caller's directory (run.workdir) is bound as it is, through a link where the launch
        // command expects the work dir: the sandboxed uid gets no write access to it beyond what
        // its permissions give (the link itself is chowned, never its target).
        const work = run.workdir ?? join(dir, "work");
        if (run.workdir) symlinkSync(run.workdir, join(dir, "work"));
        else mkdirSync(work);
        mkdirSync(join(dir, "tmp"));
        writeFilesSync(work, run.files);
        const binds = checkBinds(run.binds ?? []);
        for (const bind of binds) mkdirSync(join(work, bind.source), { recursive: true });
        const launchers = launchersFor(binds);
        if (asRoot) chownTreeSync(dir, owner);
        const results = await runStepBatches(steps, run, steps.length, (batch) =>
          launchers.launch({
            dir,
            prelude: ulimits(limits),
            env: run.env ?? {},
            steps: batch,
            timeoutMs: run.timeoutMs,
            outputBytes: limits.outputBytes,
            stopOnFailure: run.stopOnFailure ?? false,
            signal: run.signal,
          }),
        );
        if (!run.collect) return { steps: results };
        return { steps: results, files: await collectFiles(work, run.collect) };
      } finally {
        await removeDir(dir);
      }
    },
    async close(): Promise<void> {
      for (const pool of pools.values()) pool.close();
    },
  };
}

let usable: boolean | undefined;

/** Whether bubblewrap can create its namespaces on this machine (checked once per process). */
export function isBwrapUsable(bwrapPath = "/usr/bin/bwrap"): boolean {
  if (usable !== undefined) return usable;
  const owner = { uid: 65534, gid: 65534 };
  const args = [
    ...rootfsArgs(),
    ...mountArgs(undefined, undefined, owner, []),
    "/bin/sh",
    "-c",
    `${ulimits(resolveLimits())}\nexit 0`,
  ];
  const user = process.getuid?.() === 0 ? owner : {};
  const probe = childProcess().spawnSync(bwrapPath, args, {
    stdio: "ignore",
    timeout: 10_000,
    env: {},
    cwd: "/",
    ...user,
  });
  usable = probe.status === 0;
  return usable;
}

// ---------------------------------------------------------------- internal helpers

/** /usr and /etc read-only; /bin, /lib* and /sbin as on the host (symlinks on merged-/usr systems). */
function rootfsArgs(): string[] {
  const args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"];
  for (const path of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat?.isSymbolicLink()) args.push("--symlink", readlinkSync(path), path);
    else if (stat?.isDirectory()) args.push("--ro-bind", path, path);
  }
  return args;
}

function mountArgs(
  work: string | undefined,
  tmp: string | undefined,
  owner: Owner,
  readOnlyPaths: string[],
  runScript?: string,
  binds: SandboxBind[] = [],
  dir = "",
): string[] {
  return [
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--hostname",
    "sandbox",
    "--uid",
    String(owner.uid),
    "--gid",
    String(owner.gid),
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    ...["--perms", "1777", "--size", String(64 * 1024 * 1024), "--tmpfs", "/dev/shm"],
    ...(tmp ? ["--bind", tmp, "/tmp"] : ["--tmpfs", "/tmp"]),
    ...(work ? ["--bind", work, bwrapWorkPath] : ["--dir", bwrapWorkPath]),
    ...binds.flatMap((b) => [b.readOnly ? "--ro-bind" : "--bind", `${dir}/work/${b.source}`, b.target]),
    ...readOnlyPaths.flatMap((path) => ["--ro-bind", path, path]), // after /tmp, which would hide them
    ...(runScript ? ["--ro-bind", runScript, runScriptPath] : []),
    "--chdir",
    bwrapWorkPath,
    // Nothing but the work dir, /tmp and /dev/shm is writable; the memory-backed / and /dev are not.
    ...["--remount-ro", "/dev", "--remount-ro", "/"],
  ];
}

/**
 * rlimits, set by the driver shell inside the namespaces so that the process count is per sandbox
 * (dash calls RLIMIT_NPROC -p, bash -u). Any failure exits 125: no step runs without its limits.
 * The CPU hard limit is a second above the soft one, so SIGXCPU (exit 152) names the cause.
 */
function ulimits(limits: ResolvedLimits): string {
  const kb = 1024;
  const lines = [
    `{ ulimit -u ${limits.pids} 2>/dev/null || ulimit -p ${limits.pids}; }`,
    `ulimit -d ${limits.memoryMb * kb}`,
    `ulimit -f ${limits.fileSizeMb * 2 * kb}`, // 512-byte blocks
    "ulimit -c 0",
  ];
  if (limits.cpuSeconds !== undefined) {
    lines.push(`ulimit -S -t ${limits.cpuSeconds}`, `ulimit -H -t ${limits.cpuSeconds + 1}`);
  }
  return `${lines.join(" && ")} || { echo "benchline: cannot set resource limits" >&2; exit 125; }`;
}

/** Binds stay inside the work dir and never cover the system's own paths. */
function checkBinds(binds: SandboxBind[]): SandboxBind[] {
  const reserved = /^\/(usr|etc|bin|sbin|lib\w*|proc|dev|tmp|sandbox)(\/|$)|^\/\.benchline/;
  for (const bind of binds) {
    const source = bind.source.replace(/\/+$/, "");
    if (source === "" || source.startsWith("/") || source.split("/").some((p) => p === ".." || p === "."))
      throw new BenchlineError(
        "usage",
        `bind source ${JSON.stringify(bind.source)} must be a directory inside the work dir`,
      );
    if (
      !bind.target.startsWith("/") ||
      bind.target === "/" ||
      reserved.test(bind.target) ||
      bind.target.includes("..")
    )
      throw new BenchlineError(
        "usage",
        `bind target ${JSON.stringify(bind.target)} must be an absolute path outside the system's directories`,
      );
  }
  return binds.map((b) => ({
    source: b.source.replace(/\/+$/, ""),
    target: b.target.replace(/\/+$/, ""),
    ...(b.readOnly ? { readOnly: true } : {}),
  }));
}
