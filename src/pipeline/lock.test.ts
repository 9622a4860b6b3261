import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { BenchlineError } from "../core/index.js";
import { acquireLock, type LockOwner, ownerAlive, scopesOverlap, withManifestLock } from "./lock.js";

const fresh = (): string => join(mkdtempSync(join(tmpdir(), "benchline-lock-")), ".locks");

function plant(dir: string, owner: Partial<LockOwner>): string {
  mkdirSync(dir, { recursive: true });
  const now = new Date().toISOString();
  const full: LockOwner = {
    token: `planted-${Math.random().toString(16).slice(2)}`,
    pid: process.pid,
    host: hostname(),
    started_at: now,
    renewed_at: now,
    lease_ms: 60_000,
    command: "benchline run planted.yaml",
    trials: "*",
    shard: null,
    ...owner,
  };
  const path = join(dir, `${full.token}.json`);
  writeFileSync(path, JSON.stringify(full));
  return path;
}

async function lockedError(promise: Promise<unknown>): Promise<BenchlineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BenchlineError);
  expect((error as BenchlineError).code).toBe("locked");
  return error as BenchlineError;
}

describe("scopesOverlap", () => {
  const s = (trials: string[] | "*", part?: number, parts?: number) => ({
    trials,
    ...(part ? { shard: { part, parts: parts! } } : {}),
  });
  it.each([
    [s(["a"]), s(["a"]), true],
    [s(["a"]), s(["b"]), false],
    [s("*"), s(["b"]), true],
    [s(["a"]), s(["a"], 1, 3), true], // a full run holds every shard's keys
    [s(["a"], 1, 3), s(["a"], 2, 3), false],
    [s(["a"], 2, 3), s(["a"], 2, 3), true],
    [s(["a"], 1, 2), s(["a"], 2, 4), false], // even items vs items 1 mod 4
    [s(["a"], 1, 2), s(["a"], 3, 4), true], // item 2 is in both
    [s(["a"], 1, 2), s(["a"], 2, 3), true], // coprime shard counts always share items
    [s(["a"], 1, 2), s(["b"], 1, 2), false],
  ])("%j vs %j → %s", (a, b, expected) => {
    expect(scopesOverlap(a, b)).toBe(expected);
    expect(scopesOverlap(b, a)).toBe(expected);
  });
});

describe("acquireLock", () => {
  it("a second holder of the same trial gets a locked error naming the owner; another trial or shard does not", async () => {
    const dir = fresh();
    const first = await acquireLock(
      dir,
      { trials: ["t1"] },
      { command: "benchline run a.yaml", label: "exp" },
    );
    const error = await lockedError(acquireLock(dir, { trials: ["t1", "t2"] }, { label: "exp" }));
    expect(error.message).toContain(`exp: in use by pid ${process.pid} on ${hostname()} since `);
    expect(error.message).toContain("(benchline run a.yaml)");
    expect(error.message).toContain("--wait");
    const other = await acquireLock(dir, { trials: ["t2"] });
    other.release();
    first.release();
    expect(existsSync(dir)).toBe(false); // an empty lock directory is removed
    (await acquireLock(dir, { trials: ["t1"] })).release();
  });

  it("records pid, host, start time, command and scope in its file", async () => {
    const dir = fresh();
    const lock = await acquireLock(dir, { trials: ["t"], shard: { part: 2, parts: 3 } }, { command: "x" });
    const owner = JSON.parse(readFileSync(lock.path, "utf8")) as LockOwner;
    expect(owner).toMatchObject({ pid: process.pid, host: hostname(), command: "x", trials: ["t"] });
    expect(owner.shard).toEqual({ part: 2, parts: 3 });
    expect(Date.parse(owner.started_at)).toBeGreaterThan(Date.now() - 60_000);
    if (existsSync("/proc/self/stat")) expect(owner.pid_start).toMatch(/^\d+$/);
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
  });

  it("--wait waits for the holder, reporting who it is, then takes over", async () => {
    const dir = fresh();
    const first = await acquireLock(dir, { trials: ["t"] });
    const seen: LockOwner[] = [];
    const started = Date.now();
    setTimeout(() => first.release(), 600);
    const second = await acquireLock(
      dir,
      { trials: ["t"] },
      { wait: true, pollMs: 50, onWait: (o) => seen.push(o) },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(seen[0]?.token).toBe(first.owner.token);
    second.release();
  });

  it("takes over the lock of a dead process on this host", async () => {
    const dir = fresh();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    });
    const path = plant(dir, { pid: Number(dead.stdout) });
    const lock = await acquireLock(dir, { trials: ["t"] });
    expect(existsSync(path)).toBe(false);
    lock.release();
  });

  it("pid reuse: a live pid whose start time differs from the recorded one is not the owner", async () => {
    const dir = fresh();
    const path = plant(dir, { pid: process.pid, pid_start: "1" });
    if (existsSync("/proc/self/stat")) {
      const lock = await acquireLock(dir, { trials: ["t"] });
      expect(existsSync(path)).toBe(false);
      lock.release();
    }
    // Another boot id (a reboot, or a namesake machine): the pid means nothing, the lease decides.
    if (existsSync("/proc/sys/kernel/random/boot_id")) {
      const other = plant(dir, { pid: process.pid, boot_id: "not-this-boot" });
      await lockedError(acquireLock(dir, { trials: ["t"] }));
      unlinkSync(other);
      const old = new Date(Date.now() - 3600_000).toISOString();
      const rebooted = plant(dir, { pid: process.pid, boot_id: "not-this-boot", renewed_at: old });
      (await acquireLock(dir, { trials: ["t"] })).release();
      expect(existsSync(rebooted)).toBe(false);
    }
  });

  it("another host: an expired lease is taken over, a fresh one is respected", async () => {
    const dir = fresh();
    const fresh1 = plant(dir, { host: "other-host", pid: 4242 });
    const error = await lockedError(acquireLock(dir, { trials: ["t"] }));
    expect(error.message).toContain("pid 4242 on other-host");
    expect(error.message).toContain("expires 60s after its last renewal");
    unlinkSync(fresh1);
    const old = new Date(Date.now() - 3600_000).toISOString();
    const expired = plant(dir, { host: "other-host", pid: 4242, started_at: old, renewed_at: old });
    const lock = await acquireLock(dir, { trials: ["t"] });
    expect(existsSync(expired)).toBe(false);
    lock.release();
  });

  it("renews its lease while held, and reports the lock lost when its file is taken away", async () => {
    const dir = fresh();
    let lost = false;
    const lock = await acquireLock(dir, { trials: ["t"] }, { leaseMs: 150, onLost: () => (lost = true) });
    const before = (JSON.parse(readFileSync(lock.path, "utf8")) as LockOwner).renewed_at;
    await new Promise((r) => setTimeout(r, 300));
    const after = (JSON.parse(readFileSync(lock.path, "utf8")) as LockOwner).renewed_at;
    expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
    expect(ownerAlive({ ...lock.owner, host: "other-host", renewed_at: after })).toBe(true);
    unlinkSync(lock.path);
    await new Promise((r) => setTimeout(r, 200));
    expect(lost).toBe(true);
    lock.release();
  });

  it("withManifestLock waits for another writer of experiment.json, and does not clash with trial locks", async () => {
    const exp = join(mkdtempSync(join(tmpdir(), "benchline-lock-")), "exp");
    const trial = await acquireLock(join(exp, ".locks"), { trials: ["t"] });
    const other = await acquireLock(join(exp, ".locks"), { trials: ["/experiment.json"] });
    const order: string[] = [];
    setTimeout(() => {
      order.push("other released");
      other.release();
    }, 300);
    await withManifestLock(exp, () => order.push("manifest written"));
    expect(order).toEqual(["other released", "manifest written"]);
    trial.release();
  });

  it("an aborted wait stops with a locked error", async () => {
    const dir = fresh();
    const first = await acquireLock(dir, { trials: ["t"] });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const error = await lockedError(
      acquireLock(dir, { trials: ["t"] }, { wait: true, signal: controller.signal }),
    );
    expect(error.message).toContain("interrupted while waiting");
    first.release();
    expect(readdirSync(join(dir, "..")).length).toBe(0);
  });
});

/**
 * Processes that each try to take `trials: ["t"]` at the same instant and, once they hold it,
 * create a marker file exclusively (failing if another holder has it): "won", "overlap" (two
 * holders at once) or "lost locked". A loaded machine may let a late starter win after the first
 * released, which is fine; two at once is not.
 */
async function race(dir: string, count: number): Promise<string[]> {
  const lockModule = pathToFileURL(fileURLToPath(new URL("./lock.ts", import.meta.url))).href;
  const tsx = pathToFileURL(
    fileURLToPath(new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url)),
  );
  const marker = join(dir, "..", "holder");
  const go = join(dir, "..", "go"); // created once every process has loaded
  const script = `
    const { acquireLock } = await import(${JSON.stringify(lockModule)});
    const fs = await import("node:fs");
    process.stdout.write("ready;");
    while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));
    try {
      const lock = await acquireLock(${JSON.stringify(dir)}, { trials: ["t"] });
      try {
        fs.writeFileSync(${JSON.stringify(marker)}, "", { flag: "wx" });
      } catch {
        process.stdout.write("overlap");
        process.exit(0);
      }
      process.stdout.write("won");
      await new Promise((r) => setTimeout(r, 1500));
      fs.unlinkSync(${JSON.stringify(marker)});
      lock.release();
    } catch (error) {
      process.stdout.write("lost " + error.code);
    }`;
  let ready = 0;
  const outputs = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, ["--import", tsx.href, "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (d.toString().includes("ready;") && ++ready === count) writeFileSync(go, "");
    });
    return new Promise<string>((resolve) => child.on("close", () => resolve(out.replace("ready;", ""))));
  });
  return Promise.all(outputs);
}

function expectOneAtATime(outputs: string[]): void {
  expect(outputs.filter((o) => o === "overlap")).toEqual([]);
  expect(outputs.filter((o) => o === "won").length).toBeGreaterThanOrEqual(1);
  for (const o of outputs) expect(["won", "lost locked"]).toContain(o);
}

describe("races between processes", () => {
  it("processes starting at the same instant: never two holders at once, the others get a locked error", async () => {
    expectOneAtATime(await race(fresh(), 6));
  });

  it("processes taking over the same dead owner's lock at once: never two holders at once", async () => {
    const dir = fresh();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    });
    plant(dir, { pid: Number(dead.stdout), trials: ["t"] });
    expectOneAtATime(await race(dir, 6));
  });
});
