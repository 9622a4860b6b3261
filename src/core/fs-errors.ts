import { BenchlineError } from "./errors.js";

/** What the operating system's refusal means, in the words a user would search for. */
const REASONS: Record<string, string> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EFBIG: "file too large for the file system or a file-size limit",
  EACCES: "permission denied",
  EPERM: "operation not permitted (an immutable or protected file?)",
  EROFS: "read-only file system",
  EISDIR: "is a directory",
  ENOTDIR: "a part of the path is a file, not a directory",
  EEXIST: "already exists",
  ENOENT: "no such file or directory",
  ENAMETOOLONG: "file name too long",
  EMFILE: "too many open files",
};

const DISK_FULL = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

/**
 * A file-system error from Node (`{code, syscall, path}`) as a one-line `io` error naming the
 * path, or undefined for anything else. A full disk says that finished rows are kept and that a
 * rerun resumes: appends write whole rows, and atomic writes leave no temp files.
 */
export function fsErrorToBenchline(error: unknown): BenchlineError | undefined {
  if (!(error instanceof Error) || error instanceof BenchlineError) return undefined;
  const e = error as NodeJS.ErrnoException & { dest?: string };
  if (typeof e.code !== "string" || typeof e.syscall !== "string") return undefined;
  const reason = REASONS[e.code];
  if (!reason) return undefined;
  const path = e.path ?? e.dest;
  const where = path ? `${path}: ` : "";
  const resume = DISK_FULL.has(e.code)
    ? "; the run stopped and finished rows are kept: free space and rerun the same command to resume"
    : "";
  return new BenchlineError("io", `${where}${reason} (${e.code} on ${e.syscall})${resume}`, { cause: error });
}
