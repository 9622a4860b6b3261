import {
  BenchlineError,
  type Sandbox,
  type SandboxBind,
  type SandboxResult,
  type SandboxRunOptions,
  type SandboxStep,
} from "../core/index.js";
import {
  DockerApiError,
  type DockerConnection,
  dockerCall,
  dockerJson,
  dockerSocketPath,
} from "./docker-api.js";
import { execStep } from "./docker-exec.js";
import { collectBytes, type ResolvedLimits, resolveLimits, sandboxEnv, standardPath } from "./limits.js";
import { truncationNote } from "./output.js";
import { runSteps } from "./run-steps.js";
import { readTar, type TarEntry, writeTar } from "./tar.js";
import { relativeFilePath } from "./workdir.js";

/**
 * The `docker` sandbox, through the Docker Engine HTTP API on a unix socket: one fresh container
 * per run from `image` (no network, memory/pids/CPU/file-size limits, no capabilities), files
 * copied in as a tar, each step an `exec` as an unprivileged user, files copied out, and the
 * container force-removed afterwards whatever happened. A timeout kills the container (the whole
 * process tree); it is started again if more steps follow, keeping its file system.
 * With `imageWorkdir` (code-edit in SWE-bench images) the steps run in that directory of the
 * image as the image's own user, still without capabilities or network.
 */

export interface DockerSandboxOptions {
  image: string;
  /** `unix:///path/docker.sock` or a socket path (default: $DOCKER_HOST, else /var/run/docker.sock). */
  dockerHost?: string | undefined;
  /** `uid:gid` the steps run as (default 65534:65534). */
  user?: string | undefined;
  /** CPU cores the container may use (default: no quota). */
  cpus?: number | undefined;
  /** Run docker-init as pid 1 to reap zombies (default true). */
  init?: boolean | undefined;
}

export const dockerDescription =
  "docker: a fresh container per run, no network, resource limits, removed after";

export const dockerWorkPath = "/sandbox";
/** Where a disk-capped run's files wait to be copied onto its tmpfs work dir. */
const stagingDir = ".benchline-in";

function staged(entry: TarEntry): TarEntry {
  if (entry.path === "sandbox") return { ...entry, path: stagingDir };
  if (entry.path.startsWith("sandbox/")) return { ...entry, path: `${stagingDir}/${entry.path.slice(8)}` };
  return entry;
}

export function createDockerSandbox(options: DockerSandboxOptions): Sandbox & { description: string } {
  const connection: DockerConnection = {
    socketPath: dockerSocketPath(options.dockerHost ?? process.env.DOCKER_HOST),
  };
  const user = options.user ?? "65534:65534";
  const [uid = 65534, gid = 65534] = user.split(":").map(Number);
  return {
    name: `docker:${options.image}`,
    description: dockerDescription,
    // A templated image (one per instance) is checked by the task, per instance, up front.
    start: () => checkDaemon(connection, isImageTemplate(options.image) ? undefined : options.image),
    async run(steps: SandboxStep[], run: SandboxRunOptions): Promise<SandboxResult> {
      if (run.workdir !== undefined)
        throw new BenchlineError("usage", "the docker sandbox cannot run in a host directory (workdir)");
      const limits = resolveLimits(run.limits);
      if (limits.diskMb !== undefined && run.collect)
        throw new BenchlineError(
          "usage",
          "the docker sandbox cannot collect files from a disk-capped run (execution.disk_mb)",
        );
      const inImage = run.imageWorkdir;
      if (inImage !== undefined && limits.diskMb !== undefined)
        throw new BenchlineError(
          "usage",
          `execution.disk_mb cannot cap a run in the image's own ${inImage} (only the fresh work dir is a tmpfs); remove it`,
        );
      // In the image's directory the image's own environment (PATH, HOME: a conda install) stays.
      const envMap = inImage
        ? { LANG: "C.UTF-8", TMPDIR: "/tmp", ...run.env }
        : sandboxEnv(dockerWorkPath, standardPath, run.env);
      const env = Object.entries(envMap).map(([k, v]) => `${k}=${v}`);
      const image = run.image ?? options.image;
      if (isImageTemplate(image))
        throw new BenchlineError(
          "config",
          `execution.image ${image} is a template (one image per instance), which this task does not expand`,
        );
      const { Id: id } = await dockerJson<{ Id: string }>(connection, {
        method: "POST",
        path: "/containers/create",
        body: containerSpec(image, options, env, limits, uid, gid, inImage),
      }).catch((error: unknown) => {
        // A run's own image (a CVDP service's) was not checked by start(): say which is missing.
        if (!(run.image !== undefined && error instanceof DockerApiError && error.status === 404))
          throw error;
        throw new BenchlineError(
          "config",
          `docker image ${image} is not on the daemon at ${connection.socketPath}: pull or build it first (docker pull ${image})`,
          { cause: error },
        );
      });
      const container = `/containers/${id}`;
      const start = () => dockerCall(connection, { method: "POST", path: `${container}/start` });
      try {
        let entries = [
          ...workdirEntries(run.files ?? {}, uid, gid),
          ...bindEntries(run.binds ?? [], run.files ?? {}, uid, gid),
        ];
        // A disk cap puts the work dir on a tmpfs, which only exists once the container runs and
        // which the archive API cannot reach: stage the files beside it and copy them in.
        if (limits.diskMb !== undefined) entries = entries.map(staged);
        const body = writeTar(entries);
        await dockerCall(connection, { method: "PUT", path: `${container}/archive?path=/`, body });
        await start();
        if (limits.diskMb !== undefined) {
          const copy = await execStep(connection, {
            container: id,
            command: `cp -a /${stagingDir}/. ${dockerWorkPath}/`,
            env,
            user,
            workdir: "/",
            timeoutMs: run.timeoutMs,
            outputBytes: limits.outputBytes,
            signal: run.signal,
          });
          if (copy.exit_code !== 0)
            throw new BenchlineError(
              "config",
              `could not copy the files into the disk-capped work dir (needs cp in the image; ${copy.stderr.trim().slice(0, 200)})`,
            );
        }
        const results = await runSteps(steps, run, async (step, timeoutMs) => {
          const exec = () =>
            execStep(connection, {
              container: id,
              command: step.command,
              env,
              // "": the image's own user (root in SWE-bench images, which own /testbed).
              user: inImage ? "" : user,
              workdir: inImage ?? dockerWorkPath,
              timeoutMs,
              outputBytes: limits.outputBytes,
              signal: run.signal,
            });
          // 409: the container is not running (a timeout killed it, or its code did): start it again.
          return exec().catch(async (error: unknown) => {
            if (!(error instanceof DockerApiError && error.status === 409)) throw error;
            await start();
            return exec();
          });
        });
        if (!run.collect) return { steps: results };
        const files: Record<string, string> = {};
        for (const path of run.collect) {
          const text = await readFile(connection, id, relativeFilePath(path));
          if (text !== undefined) files[path] = text;
        }
        return { steps: results, files };
      } finally {
        await dockerCall(connection, { method: "DELETE", path: `${container}?force=true&v=true` }).catch(
          () => {},
        );
      }
    },
  };
}

// ---------------------------------------------------------------- internal helpers

/** `{name}` placeholders: an image per instance (`sweb.eval.x86_64.{instance_id}`). */
export function isImageTemplate(image: string | undefined): boolean {
  return image !== undefined && /\{\w+\}/.test(image);
}

/**
 * Checks that every image is on the daemon (a few at a time); one config error lists the missing
 * ones, before anything runs.
 */
export async function requireDockerImages(dockerHost: string | undefined, images: string[]): Promise<void> {
  const connection: DockerConnection = {
    socketPath: dockerSocketPath(dockerHost ?? process.env.DOCKER_HOST),
  };
  await checkDaemon(connection, undefined);
  const unique = [...new Set(images)];
  const missing: string[] = [];
  for (let i = 0; i < unique.length; i += 8) {
    const batch = unique.slice(i, i + 8);
    const found = await Promise.all(batch.map((image) => hasImage(connection, image)));
    for (const [j, ok] of found.entries()) if (!ok) missing.push(batch[j] as string);
  }
  if (missing.length === 0) return;
  const shown = missing.slice(0, 20).join(", ");
  const more = missing.length > 20 ? ` and ${missing.length - 20} more` : "";
  throw new BenchlineError(
    "config",
    `${missing.length} of ${unique.length} docker images are not on the daemon at ${connection.socketPath}: ${shown}${more}; pull or build them first (docker pull <image>), or run fewer instances (--ids)`,
  );
}

async function hasImage(connection: DockerConnection, image: string): Promise<boolean> {
  try {
    await dockerCall(connection, { method: "GET", path: `/images/${encodeURIComponent(image)}/json` });
    return true;
  } catch (error) {
    if (error instanceof DockerApiError && error.status === 404) return false;
    throw error;
  }
}

/** One clear error before any run when the daemon cannot be reached or lacks the image. */
async function checkDaemon(connection: DockerConnection, image: string | undefined): Promise<void> {
  const socket = connection.socketPath;
  try {
    await dockerCall(connection, { method: "GET", path: "/_ping" });
  } catch (error) {
    const cause = (error as { code?: unknown }).code ?? (error as Error).message;
    throw new BenchlineError(
      "config",
      `cannot reach the docker daemon at ${socket} (${String(cause)}): start it (sudo systemctl start docker, or sudo dockerd &), or point execution.docker_host or DOCKER_HOST at its socket`,
      { cause: error },
    );
  }
  if (image === undefined) return;
  try {
    await dockerCall(connection, { method: "GET", path: `/images/${encodeURIComponent(image)}/json` });
  } catch (error) {
    if (!(error instanceof DockerApiError && error.status === 404)) throw error;
    throw new BenchlineError(
      "config",
      `docker image ${image} is not on the daemon at ${socket}: pull or build it first (docker pull ${image})`,
      { cause: error },
    );
  }
}

function containerSpec(
  image: string,
  options: DockerSandboxOptions,
  env: string[],
  limits: ResolvedLimits,
  uid: number,
  gid: number,
  inImage: string | undefined,
) {
  const mb = 1024 * 1024;
  const ulimits = [
    { Name: "fsize", Soft: limits.fileSizeMb * mb, Hard: limits.fileSizeMb * mb },
    { Name: "core", Soft: 0, Hard: 0 },
  ];
  if (limits.cpuSeconds !== undefined) {
    ulimits.push({ Name: "cpu", Soft: limits.cpuSeconds, Hard: limits.cpuSeconds + 1 }); // SIGXCPU first
  }
  return {
    Image: image,
    // The idle main process runs as the image's user (root without capabilities in most images),
    // so step code, running as `user`, cannot kill it.
    Entrypoint: ["sleep"],
    Cmd: ["2147483647"],
    WorkingDir: inImage ?? dockerWorkPath,
    Env: env,
    NetworkDisabled: true,
    Labels: { "benchline.sandbox": "1" },
    HostConfig: {
      NetworkMode: "none",
      Memory: limits.memoryMb * mb,
      MemorySwap: limits.memoryMb * mb,
      PidsLimit: limits.pids,
      ...(options.cpus === undefined ? {} : { NanoCpus: Math.round(options.cpus * 1e9) }),
      Ulimits: ulimits,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      // Steps in the image's directory run as its user, so `sleep` must be pid 1 (which the step
      // wrapper's `kill -9 -1` spares); behind docker-init, root steps would kill it and the container.
      Init: inImage === undefined && (options.init ?? true),
      // execution.disk_mb: the work dir and /tmp are tmpfs mounts of that size (overlay's
      // StorageOpt size needs xfs with pquota, which docker hosts rarely have).
      ...(limits.diskMb === undefined
        ? {}
        : {
            Tmpfs: {
              [dockerWorkPath]: `size=${limits.diskMb}m,uid=${uid},gid=${gid},mode=0755,exec`,
              "/tmp": `size=${limits.diskMb}m,mode=1777,exec`,
            },
          }),
    },
  };
}

/** The work dir itself, then each file (with its parent directories), owned by the step user. */
function workdirEntries(files: Record<string, string>, uid: number, gid: number): TarEntry[] {
  const mtime = Math.floor(Date.now() / 1000);
  const entries: TarEntry[] = [{ path: "sandbox", type: "directory", uid, gid, mtime }];
  const dirs = new Set<string>();
  for (const [path, content] of Object.entries(files)) {
    const parts = relativeFilePath(path).split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!dirs.has(dir)) entries.push({ path: `sandbox/${dir}`, type: "directory", uid, gid, mtime });
      dirs.add(dir);
    }
    entries.push({ path: `sandbox/${parts.join("/")}`, type: "file", content, uid, gid, mtime });
  }
  return entries;
}

/**
 * Binds inside a container: a writable one is a symlink from its target to the work dir's
 * directory; a read-only one is a copy of that directory's files owned by root, read-only for the
 * step user (the container is its own file system, so no host path is mounted).
 */
function bindEntries(
  binds: SandboxBind[],
  files: Record<string, string>,
  uid: number,
  gid: number,
): TarEntry[] {
  const mtime = Math.floor(Date.now() / 1000);
  const entries: TarEntry[] = [];
  const dirs = new Set<string>();
  const dir = (path: string, owner: { uid: number; gid: number; mode: number }) => {
    if (dirs.has(path)) return;
    dirs.add(path);
    entries.push({ path, type: "directory", ...owner, mtime });
  };
  const root = { uid: 0, gid: 0, mode: 0o755 };
  for (const bind of binds) {
    const source = relativeFilePath(bind.source.replace(/\/+$/, ""));
    const target = bind.target.replace(/^\/+|\/+$/g, "");
    if (target === "" || target.split("/").some((p) => p === ".." || p === "."))
      throw new BenchlineError(
        "usage",
        `bind target ${JSON.stringify(bind.target)} must be an absolute path`,
      );
    const parts = source.split("/");
    for (let i = 1; i <= parts.length; i++)
      dir(`sandbox/${parts.slice(0, i).join("/")}`, { uid, gid, mode: 0o755 });
    const targetParts = target.split("/");
    for (let i = 1; i < targetParts.length; i++) dir(targetParts.slice(0, i).join("/"), root);
    if (!bind.readOnly) {
      entries.push({ path: target, type: "symlink", linkTarget: `${dockerWorkPath}/${source}`, mtime });
      continue;
    }
    dir(target, { uid: 0, gid: 0, mode: 0o555 });
    for (const [path, content] of Object.entries(files)) {
      const rel = relativeFilePath(path);
      if (!rel.startsWith(`${source}/`)) continue;
      const inner = rel.slice(source.length + 1).split("/");
      for (let i = 1; i < inner.length; i++)
        dir(`${target}/${inner.slice(0, i).join("/")}`, { uid: 0, gid: 0, mode: 0o555 });
      entries.push({
        path: `${target}/${inner.join("/")}`,
        type: "file",
        content,
        uid: 0,
        gid: 0,
        mode: 0o444,
        mtime,
      });
    }
  }
  return entries;
}

/** A regular file from the work dir (missing or not a file: undefined), cut at `collectBytes`. */
async function readFile(connection: DockerConnection, id: string, path: string): Promise<string | undefined> {
  const response = await dockerCall(connection, {
    method: "GET",
    path: `/containers/${id}/archive?path=${encodeURIComponent(`${dockerWorkPath}/${path}`)}`,
    maxBytes: collectBytes + 64 * 1024,
  }).catch(() => undefined);
  const entry = response ? readTar(response.body)[0] : undefined;
  if (entry?.type !== "file") return undefined;
  const text = entry.content.subarray(0, collectBytes).toString("utf8");
  return entry.size > collectBytes ? text + truncationNote(entry.size - collectBytes) : text;
}
