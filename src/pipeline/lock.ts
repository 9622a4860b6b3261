/**
 * Who may write which trial files: one process at a time per trial (per shard key range).
 *
 * Every holder writes its own file `<experiment>/.locks/<token>.json` (a unique name, written to
 * a temp file and renamed, so a reader never sees half an owner) recording pid, host, start time,
 * command, the trials it holds and its shard. Acquiring is "create mine, then look": a process
 * that finds a live holder whose trials and keys overlap removes its own file and waits or gives
 * up. Two processes that start together both see each other and both back off (then retry with a
 * random delay), so two never both win. A dead holder's file is removed by name — its name is
 * unique, so a takeover can never remove a newer holder's file. Dead means: on this host (same
 * name and boot id), its pid is gone or now belongs to another process (start time from /proc);
 * on another host (a shared filesystem), or after a reboot, its lease — renewed every lease/3 by
 * the holder — has expired.
 */
import { randomBytes } from "node:crypto";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { BenchlineError } from "../core/index.js";

export interface Shard {
  part: number;
  parts: number;
}

/** What a holder owns: some trials of an experiment (or all: `"*"`), all keys or one shard's. */
export interface LockScope {
  trials: readonly string[] | "*";
  shard?: Shard | undefined;
}

/** The content of a lock file. */
export interface LockOwner {
  token: string;
  pid: number;
  host: string;
  /** Linux boot id: tells this boot of this host from a reboot or a namesake machine. */
  boot_id?: string;
  /** Process start time (clock ticks since boot, /proc/<pid>/stat): guards against pid reuse. */
  pid_start?: string;
  started_at: string;
  renewed_at: string;
  lease_ms: number;
  command: string;
  trials: string[] | "*";
  shard: Shard | null;
}

export interface LockOptions {
  /** Wait for a live holder to finish instead of failing with a `locked` error. */
  wait?: boolean;
  /** Called while waiting: when the holder changes, then every `reportEveryMs`. */
  onWait?: (owner: LockOwner) => void;
  /** Stops waiting. */
  signal?: AbortSignal;
  /** Called when this holder's file was removed by another process (its lease expired). */
  onLost?: () => void;
  /** How long a holder on another host counts as alive after its last renewal (default 60 s). */
  leaseMs?: number;
  /** Time between attempts while waiting (default 1 s, plus a random delay). */
  pollMs?: number;
  reportEveryMs?: number;
  /** Shown to other processes (default: the process's arguments). */
  command?: string;
  /** What is being locked, for messages (default: the lock directory's parent). */
  label?: string;
}

export interface Lock {
  owner: LockOwner;
  path: string;
  release(): void;
}

/** Pseudo-trial for experiment.json: `withManifestLock` holds it; `"*"` (merge) covers it. */
const MANIFEST = "/experiment.json";

/** The lock directory of an experiment directory. */
export const lockDirOf = (experimentDir: string): string => join(experimentDir, ".locks");

/**
 * Takes the trials of `scope` in `dir` for this process, or throws a `locked` BenchlineError
 * naming the holder (unless `wait`). Release it with `release()`; it is also released when the
 * process exits.
 *
 * @example
 * const lock = await acquireLock(lockDirOf(exp.dir), { trials: ["m__p__1a2b3c4d"] }, { wait: true });
 * try { await work(); } finally { lock.release(); }
 */
export async function acquireLock(dir: string, scope: LockScope, options: LockOptions = {}): Promise<Lock> {
  const leaseMs = options.leaseMs ?? 60_000;
  const pollMs = options.pollMs ?? 1000;
  const reportEveryMs = options.reportEveryMs ?? 15_000;
  const label = options.label ?? join(dir, "..");
  const host = hostname();
  const token = `${safe(host)}-${process.pid}-${randomBytes(6).toString("hex")}`;
  const path = join(dir, `${token}.json`);
  const now = new Date().toISOString();
  const owner: LockOwner = {
    token,
    pid: process.pid,
    host,
    ...(BOOT_ID ? { boot_id: BOOT_ID } : {}),
    ...optional("pid_start", processStart(process.pid)),
    started_at: now,
    renewed_at: now,
    lease_ms: leaseMs,
    command: options.command ?? process.argv.slice(1).join(" "),
    trials: scope.trials === "*" ? "*" : [...scope.trials],
    shard: scope.shard ?? null,
  };

  let reported: { token: string; at: number } | undefined;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) {
      throw new BenchlineError("locked", `${label}: interrupted while waiting for the lock`);
    }
    writeOwner(dir, path, owner);
    const holder = liveConflict(dir, owner);
    if (!holder) return hold(dir, path, owner, leaseMs, options.onLost);
    removeQuietly(path);
    // Two processes that start together both back off; a short random delay lets one win.
    const startingTogether = attempt <= 3 && Date.now() - Date.parse(holder.started_at) < 5000;
    if (!options.wait && !startingTogether) {
      throw new BenchlineError(
        "locked",
        `${label}: in use by ${describeOwner(holder)}; wait for it with --wait, or stop that process` +
          (holder.host === host
            ? ""
            : ` (a lock from another host expires ${leaseMs / 1000}s after its last renewal)`),
      );
    }
    if (options.wait && (reported?.token !== holder.token || Date.now() - reported.at >= reportEveryMs)) {
      reported = { token: holder.token, at: Date.now() };
      options.onWait?.(holder);
    }
    const delay =
      startingTogether && !options.wait ? 20 + Math.random() * 100 : pollMs * (0.75 + Math.random() / 2);
    await sleep(delay, options.signal);
  }
}

/**
 * Runs `fn` holding experiment.json of `experimentDir` (its read-modify-write must not interleave
 * with another run's). Waits for other holders; held for milliseconds.
 */
export async function withManifestLock<T>(experimentDir: string, fn: () => T): Promise<T> {
  const lock = await acquireLock(
    lockDirOf(experimentDir),
    { trials: [MANIFEST] },
    { wait: true, pollMs: 50 },
  );
  try {
    return fn();
  } finally {
    lock.release();
  }
}

/** `pid 123 on host-a since 2026-12-03T20:00:00.000Z (benchline run exp.yaml)`, plus its shard. */
export function describeOwner(owner: LockOwner): string {
  const shard = owner.shard ? `, shard ${owner.shard.part}/${owner.shard.parts}` : "";
  return `pid ${owner.pid} on ${owner.host} since ${owner.started_at} (${owner.command}${shard})`;
}

/** Whether two scopes may write the same rows: a shared trial and overlapping keys. */
export function scopesOverlap(a: LockScope, b: LockScope): boolean {
  const trials =
    a.trials === "*" || b.trials === "*" || a.trials.some((t) => (b.trials as readonly string[]).includes(t));
  if (!trials) return false;
  if (!a.shard || !b.shard) return true;
  // Shard p of k holds the items i with i ≡ p-1 (mod k): two shards share an item exactly when
  // their residues agree modulo gcd(k, k') (Chinese remainder theorem).
  const g = gcd(a.shard.parts, b.shard.parts);
  return (a.shard.part - 1) % g === (b.shard.part - 1) % g;
}

/** Whether the process that wrote `owner` still holds it (see the file comment). */
export function ownerAlive(owner: LockOwner, now = Date.now()): boolean {
  // Another boot id under this host name is a reboot or another machine with the same name
  // (containers): its pid means nothing here, so only its lease counts.
  const sameHost = owner.host === hostname() && (!owner.boot_id || !BOOT_ID || owner.boot_id === BOOT_ID);
  if (!sameHost) return now - Date.parse(owner.renewed_at) <= owner.lease_ms;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const start = processStart(owner.pid);
  return owner.pid_start === undefined || start === undefined || start === owner.pid_start;
}

// ---- internal helpers ----

const held = new Set<{ path: string; release: () => void }>();
process.once("exit", () => {
  for (const h of [...held]) h.release();
});

function hold(dir: string, path: string, owner: LockOwner, leaseMs: number, onLost?: () => void): Lock {
  let released = false;
  const renew = setInterval(
    () => {
      try {
        statSync(path);
      } catch {
        clearInterval(renew);
        if (!released) onLost?.();
        return;
      }
      writeOwner(dir, path, { ...owner, renewed_at: new Date().toISOString() });
    },
    Math.max(10, Math.floor(leaseMs / 3)),
  );
  renew.unref();
  const entry = {
    path,
    release: () => {
      if (released) return;
      released = true;
      clearInterval(renew);
      held.delete(entry);
      removeQuietly(path);
      // An empty lock directory is not left behind; a racing creator retries (writeOwner).
      try {
        rmdirSync(dir);
      } catch {}
    },
  };
  held.add(entry);
  return { owner, path, release: entry.release };
}

/** The first live holder in `dir` whose scope overlaps `me`; dead holders' files are removed. */
function liveConflict(dir: string, me: LockOwner): LockOwner | undefined {
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(".json") || name === `${me.token}.json`) continue;
    const path = join(dir, name);
    let other: LockOwner;
    try {
      other = JSON.parse(readFileSync(path, "utf8")) as LockOwner;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue; // released meanwhile
      // Not written by us (our files appear whole, by rename): garbage once it is old.
      if (ageMs(path) > me.lease_ms) removeQuietly(path);
      else return { ...me, token: name, pid: 0, host: "?", command: `unreadable lock file ${path}` };
      continue;
    }
    if (!ownerAlive(other)) {
      removeQuietly(path); // unique name: removes that dead holder's file and nothing newer
      continue;
    }
    const mine = { trials: me.trials, shard: me.shard ?? undefined };
    if (scopesOverlap(mine, { trials: other.trials, shard: other.shard ?? undefined })) return other;
  }
  return undefined;
}

/** Writes the owner file whole: a temp file renamed into place. */
function writeOwner(dir: string, path: string, owner: LockOwner): void {
  const tmp = `${path}.tmp`;
  for (let tries = 0; ; tries++) {
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(tmp, `${JSON.stringify(owner, null, 2)}\n`);
      renameSync(tmp, path);
      return;
    } catch (error) {
      // Another process removed the empty directory between our mkdir and write.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || tries >= 5) throw error;
    }
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Field 22 of /proc/<pid>/stat (start time after boot); undefined where there is no /proc. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may contain spaces: count after it.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

const BOOT_ID = ((): string | undefined => {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
})();

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
