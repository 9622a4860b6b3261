import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { dockerCall, dockerJson } from "../docker-api.js";
import { type TarEntry, writeTar } from "../tar.js";

/**
 * A private dockerd for the docker sandbox tests (no registry access needed): started on a socket
 * in a temp dir with its own data root, plus a busybox image imported from a rootfs tarball
 * built here from the host's static busybox (Debian: busybox-static).
 */

export interface TestDocker {
  socketPath: string;
  image: string;
  stop(): Promise<void>;
}

export type TestDockerStart = { ok: true; docker: TestDocker } | { ok: false; reason: string };

const dockerdPath = "/usr/sbin/dockerd";
const image = "benchline-test/busybox:latest";

export async function startTestDockerd(): Promise<TestDockerStart> {
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((path) => existsSync(path));
  if (!existsSync(dockerdPath))
    return { ok: false, reason: `${dockerdPath} not found (apt-get install docker.io)` };
  if (process.getuid?.() !== 0) return { ok: false, reason: "dockerd needs root; the tests run as a user" };
  if (!busybox || !isStatic(busybox)) {
    return { ok: false, reason: "no static busybox for the test image (apt-get install busybox-static)" };
  }
  const dir = await mkdtemp("/tmp/benchline-dockerd-");
  const socketPath = join(dir, "docker.sock");
  const log = openSync(join(dir, "dockerd.log"), "a");
  const daemon = spawn(
    dockerdPath,
    [
      "--iptables=false",
      "--bridge=none",
      `--data-root=${join(dir, "data")}`,
      `--exec-root=${join(dir, "exec")}`,
      `--pidfile=${join(dir, "docker.pid")}`,
      `--host=unix://${socketPath}`,
    ],
    { stdio: ["ignore", log, log] },
  );
  closeSync(log);
  // If the test process dies without its afterAll, take the daemon (and its containerd) along.
  const onExit = () => daemon.kill("SIGTERM");
  process.once("exit", onExit);
  const stop = async (): Promise<void> => {
    process.off("exit", onExit);
    await terminate(daemon);
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  try {
    await waitForPing(socketPath, daemon, 30_000);
    await importBusybox(socketPath, busybox);
    return { ok: true, docker: { socketPath, image, stop } };
  } catch (error) {
    const tail = readFileSync(join(dir, "dockerd.log"), "utf8").split("\n").slice(-5).join("\n");
    await stop();
    return { ok: false, reason: `dockerd did not start: ${(error as Error).message}\n${tail}` };
  }
}

// ---------------------------------------------------------------- internal helpers

/** A dynamically linked ELF has a PT_INTERP program header. */
function isStatic(path: string): boolean {
  const elf = readFileSync(path);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false; // 64-bit ELF only
  const phoff = Number(elf.readBigUInt64LE(32));
  const size = elf.readUInt16LE(54);
  const count = elf.readUInt16LE(56);
  for (let i = 0; i < count; i++) if (elf.readUInt32LE(phoff + i * size) === 3) return false;
  return true;
}

async function waitForPing(socketPath: string, daemon: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (daemon.exitCode !== null) throw new Error(`dockerd exited with ${daemon.exitCode}`);
    const ok = await dockerCall({ socketPath }, { method: "GET", path: "/_ping" }).then(
      () => true,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no answer on ${socketPath} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function importBusybox(socketPath: string, busybox: string): Promise<void> {
  const applets = execFileSync(busybox, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
  const entries: TarEntry[] = [
    { path: "bin", type: "directory" },
    { path: "bin/busybox", type: "file", content: readFileSync(busybox), mode: 0o755 },
    ...applets
      .filter((name) => name !== "busybox")
      .map((name): TarEntry => ({ path: `bin/${name}`, type: "symlink", linkTarget: "busybox" })),
    { path: "usr", type: "directory" },
    { path: "usr/bin", type: "symlink", linkTarget: "../bin" },
    { path: "etc", type: "directory" },
    {
      path: "etc/passwd",
      type: "file",
      content: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
    },
    { path: "etc/group", type: "file", content: "root:x:0:\nnogroup:x:65534:\n" },
    { path: "tmp", type: "directory", mode: 0o1777 },
  ];
  const [repo, tag] = image.split(":");
  const progress = await dockerJson<unknown>(
    { socketPath },
    { method: "POST", path: `/images/create?fromSrc=-&repo=${repo}&tag=${tag}`, body: writeTar(entries) },
  ).catch((error: unknown) => ({ error: String(error) }));
  if (typeof progress === "object" && progress !== null && "error" in progress) {
    throw new Error(`image import failed: ${JSON.stringify(progress)}`);
  }
}

async function terminate(daemon: ChildProcess): Promise<void> {
  if (daemon.exitCode !== null || daemon.signalCode !== null) return;
  const exited = new Promise((resolve) => daemon.once("exit", resolve));
  daemon.kill("SIGTERM");
  const timer = setTimeout(() => daemon.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}
