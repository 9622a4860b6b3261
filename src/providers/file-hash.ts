/**
 * The content hash of a model file (a GGUF, a script, a responses file), remembered in a small
 * JSON file by path, size, mtime and inode, so a multi-gigabyte model is read once, not every run.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  type BigIntStats,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";
import { BenchlineError } from "../core/index.js";

interface Remembered {
  size: string;
  mtime_ns: string;
  ino: string;
  sha256: string;
}

/**
 * Content hashes of files, remembered in `file` (JSON) by path, size, mtime and inode. Changes
 * are kept in memory until `save()`, so a run that stops at a bad config writes nothing.
 * @example
 * const hashes = new FileHashes("runs/.cache/file-hashes.json");
 * const sha = hashes.of("/models/qwen.gguf"); // read once, then remembered
 * hashes.save();
 */
export class FileHashes {
  private readonly known: Record<string, Remembered>;
  private readonly added: Record<string, Remembered> = {};

  constructor(private readonly file?: string) {
    this.known = file ? readCache(file) : {};
  }

  /** sha256 (hex) of the file at `path` (absolute). */
  of(path: string): string {
    let stat: BigIntStats;
    try {
      stat = statSync(path, { bigint: true });
    } catch (error) {
      throw new BenchlineError("not_found", `${path}: file not found`, { cause: error });
    }
    const now = { size: String(stat.size), mtime_ns: String(stat.mtimeNs), ino: String(stat.ino) };
    const known = this.added[path] ?? this.known[path];
    if (known && known.size === now.size && known.mtime_ns === now.mtime_ns && known.ino === now.ino)
      return known.sha256;
    const sha256 = hashFile(path);
    this.added[path] = { ...now, sha256 };
    return sha256;
  }

  /** Records new hashes (merged with what another run recorded meanwhile); failures are ignored. */
  save(): void {
    if (!this.file || Object.keys(this.added).length === 0) return;
    writeCache(this.file, { ...readCache(this.file), ...this.added });
  }
}

// ---------------------------------------------------------------- internal helpers

function hashFile(path: string): string {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

function readCache(file: string): Record<string, Remembered> {
  try {
    const value: unknown = JSON.parse(readFileSync(file, "utf8"));
    return typeof value === "object" && value !== null ? (value as Record<string, Remembered>) : {};
  } catch {
    return {}; // missing or damaged: hash again
  }
}

function writeCache(file: string, cache: Record<string, Remembered>): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, `${JSON.stringify(cache, null, 1)}\n`);
    renameSync(tmp, file);
  } catch {
    rmSync(tmp, { force: true });
  }
}
