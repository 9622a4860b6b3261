import { lstatSync } from "node:fs";
import { join, posix } from "node:path";

/**
 * The paths a patch touches, and whether each stays inside the tree: no absolute paths, no
 * `..`, no component that is a symlink in the tree, no new symlinks. A patch that fails is
 * refused before anything is applied.
 */
export function patchPaths(patch: string): { paths: string[]; symlinks: boolean } {
  const paths = new Set<string>();
  let symlinks = false;
  for (const line of patch.split("\n")) {
    let m = /^diff --git (\S+) (\S+)/.exec(line);
    if (m) {
      paths.add(stripPrefix(m[1] as string));
      paths.add(stripPrefix(m[2] as string));
      continue;
    }
    m = /^(?:---|\+\+\+) ([^\t\n]+)/.exec(line);
    if (m && m[1] !== "/dev/null") paths.add(stripPrefix((m[1] as string).trim()));
    m = /^(?:rename|copy) (?:from|to) (.+)$/.exec(line);
    if (m) paths.add(m[1] as string);
    if (/^(?:new file mode|new mode|old mode) 120000/.test(line)) symlinks = true;
  }
  return { paths: [...paths].filter((p) => p !== ""), symlinks };
}

function stripPrefix(path: string): string {
  const unquoted = path.startsWith('"') && path.endsWith('"') ? path.slice(1, -1) : path;
  return unquoted.replace(/^[ab]\//, "");
}

/**
 * Why the patch may not be applied in `tree`, or undefined when every path stays inside it.
 * Without a tree (it is inside a container) only the patch itself is checked: symlinked
 * components are then checked where the tree is (`symlinkCheck`).
 */
export function unsafePatchReason(patch: string, tree?: string): string | undefined {
  const { paths, symlinks } = patchPaths(patch);
  if (symlinks) return "the patch creates a symbolic link";
  for (const path of paths) {
    const normalized = posix.normalize(path);
    if (posix.isAbsolute(path) || normalized.split("/").includes("..") || normalized.startsWith("../"))
      return `path leaves the repository: ${JSON.stringify(path)}`;
    if (tree === undefined) continue;
    const parts = normalized.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const stat = lstatSync(join(tree, ...parts.slice(0, i)), { throwIfNoEntry: false });
      if (!stat) break;
      if (stat.isSymbolicLink()) return `path goes through a symbolic link: ${JSON.stringify(path)}`;
    }
  }
  return undefined;
}

/**
 * A POSIX sh snippet that exits 3 naming the first path of `paths` that goes through a symbolic
 * link of the current directory's tree (`unsafePatchReason`'s last check, run inside a container).
 */
export function symlinkCheck(paths: string[], quote: (s: string) => string): string {
  const tests: string[] = [];
  for (const path of paths) {
    const parts = posix.normalize(path).split("/");
    for (let i = 1; i <= parts.length; i++) {
      const prefix = quote(parts.slice(0, i).join("/"));
      tests.push(
        `if [ -L ${prefix} ]; then echo ${quote(`path goes through a symbolic link: ${JSON.stringify(path)}`)} >&2; exit 3; fi`,
      );
    }
  }
  return tests.join("\n");
}
