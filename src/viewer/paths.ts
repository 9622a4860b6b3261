import { existsSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";

/**
 * Path safety for everything the viewer serves: a URL names experiments, trials and files by single
 * path segments (decoded one at a time, so an encoded slash stays inside its segment and is refused),
 * and the real path of what they name (symlinks resolved) must lie inside the served root.
 */
export class PathError extends Error {
  constructor(
    readonly status: 403 | 404,
    message: string,
  ) {
    super(message);
  }
}

/** A decoded URL segment that may name a directory entry: no separators, no dot names, no NUL. */
export function safeSegment(raw: string): string {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw new PathError(404, "bad escape");
  }
  if (name === "" || name.startsWith(".") || /[/\\\0]/.test(name)) throw new PathError(404, "not found");
  return name;
}

/** `root/segments…` if it exists and its real path stays under the root's real path. */
export function resolveInside(root: string, segments: string[], kind: "dir" | "file"): string {
  const path = join(root, ...segments.map(safeSegment));
  if (!existsSync(path)) throw new PathError(404, "not found");
  const real = realpathSync(path);
  const realRoot = realpathSync(root);
  if (real !== realRoot && !real.startsWith(realRoot + sep))
    throw new PathError(403, "outside the served directory");
  const st = statSync(real);
  if (kind === "dir" ? !st.isDirectory() : !st.isFile()) throw new PathError(404, "not found");
  return real;
}
