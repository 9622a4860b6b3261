import {
  constants,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  writeFileSync as writeFileNow,
} from "node:fs";
import { lchown, mkdir, mkdtemp, open, readdir, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, posix, sep } from "node:path";
import { BenchlineError } from "../core/index.js";
import { collectBytes } from "./limits.js";
import { truncationNote } from "./output.js";

/** Host-side work directories for sandboxes that run on this machine (local, bwrap). */

export interface Owner {
  uid: number;
  gid: number;
}

/** A path from `files`/`collect`, normalised; throws unless it is relative and stays inside. */
export function relativeFilePath(path: string): string {
  const normalized = posix.normalize(path);
  if (posix.isAbsolute(normalized) || normalized === "." || normalized.split("/").includes("..")) {
    throw new BenchlineError(
      "input",
      `sandbox file path must be relative and stay inside the work dir: ${JSON.stringify(path)}`,
    );
  }
  return normalized;
}

export async function makeTempDir(parent: string = tmpdir()): Promise<string> {
  return mkdtemp(join(parent, "benchline-sandbox-"));
}

export function makeTempDirSync(parent: string = tmpdir()): string {
  return mkdtempSync(join(parent, "benchline-sandbox-"));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 2 });
}

export async function writeFiles(dir: string, files: Record<string, string> = {}): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const target = join(dir, relativeFilePath(path));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

export function writeFilesSync(dir: string, files: Record<string, string> = {}): void {
  for (const [path, content] of Object.entries(files)) {
    const target = join(dir, relativeFilePath(path));
    mkdirSync(dirname(target), { recursive: true });
    writeFileNow(target, content);
  }
}

/** `chownTree`, synchronously (a fresh run dir holds a handful of entries). */
export function chownTreeSync(dir: string, owner: Owner): void {
  lchownSync(dir, owner.uid, owner.gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) chownTreeSync(path, owner);
    else lchownSync(path, owner.uid, owner.gid);
  }
}

/** Gives `dir` and everything below it to `owner` (symlinks themselves, never their targets). */
export async function chownTree(dir: string, owner: Owner): Promise<void> {
  await lchown(dir, owner.uid, owner.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(path, owner);
    else await lchown(path, owner.uid, owner.gid);
  }
}

/**
 * Reads `paths` back from `dir`. Missing files, non-regular files (FIFOs, devices, directories)
 * and anything resolving outside `dir` (a symlink planted by the sandboxed code) are left out;
 * a file over `maxBytes` is cut and the cut recorded.
 */
export async function collectFiles(
  dir: string,
  paths: string[],
  maxBytes: number = collectBytes,
): Promise<Record<string, string>> {
  const root = await realpath(dir);
  const files: Record<string, string> = {};
  for (const path of paths) {
    const text = await readInside(root, relativeFilePath(path), maxBytes);
    if (text !== undefined) files[path] = text;
  }
  return files;
}

async function readInside(root: string, relative: string, maxBytes: number): Promise<string | undefined> {
  const real = await realpath(join(root, relative)).catch(() => undefined);
  if (real === undefined || !real.startsWith(root + sep)) return undefined;
  // O_NONBLOCK: opening a FIFO must not hang; O_NOFOLLOW: no symlink swapped in since realpath.
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  const handle = await open(real, flags).catch(() => undefined);
  if (handle === undefined) return undefined;
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return undefined;
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, bytesRead).toString("utf8");
    return stat.size > maxBytes ? text + truncationNote(stat.size - maxBytes) : text;
  } finally {
    await handle.close();
  }
}
