import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { childProcess, execFileAsync } from "../../core/builtins.js";
import { git } from "./git.js";

const run = execFileAsync;

/**
 * Fresh working trees of a repository at a commit with the shown edits applied. The tree is
 * written once per (clone, commit, edits) as a read-only template; each execution then gets an
 * overlay mount on it (when the harness may mount: a few ms whatever the repository's size) or
 * a hard-link copy (files are read-only, and `git apply` / `patch` replace files rather than
 * write into them, so the template is never changed).
 */

export interface Tree {
  dir: string;
  /** How the tree was made: "overlay" or "hardlinks". */
  kind: "overlay" | "hardlinks";
  remove(): Promise<void>;
}

const ROOT = join(tmpdir(), "benchline-code-edit");
const templates = new Map<string, Promise<string>>();

/** Applies a patch in `dir` with git (outside any repository); throws with git's message. */
export async function gitApply(dir: string, patch: string, args: string[] = []): Promise<void> {
  await gitIn(dir, ["apply", "--whitespace=nowarn", ...args], patch);
}

export function gitIn(dir: string, args: string[], input: string) {
  return new Promise<string>((resolveRun, reject) => {
    const child = childProcess().execFile(
      "git",
      args,
      { cwd: dir, env: { ...minimalEnv(), GIT_CEILING_DIRECTORIES: dirname(dir) }, maxBuffer: 1 << 26 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${stderr || stdout || error.message}`.trim()));
        else resolveRun(`${stdout}${stderr}`);
      },
    );
    child.stdin?.end(input);
  });
}

function minimalEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir(), LC_ALL: "C" };
}

/** The read-only template tree for (clone, commit, shown edits), written on first use. */
export function templateTree(clone: string, commit: string, edits: string[]): Promise<string> {
  const key = createHash("sha256")
    .update(JSON.stringify([clone, commit, edits]))
    .digest("hex")
    .slice(0, 20);
  let entry = templates.get(key);
  if (!entry) {
    entry = (async () => {
      const dir = join(ROOT, `template-${key}`);
      if (await exists(`${dir}.ready`)) return dir;
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await chmod(ROOT, 0o755);
      const gitDir = (await git(clone, ["rev-parse", "--absolute-git-dir"])).toString().trim();
      const index = join(ROOT, `index-${key}`);
      const env = { ...minimalEnv(), GIT_DIR: gitDir, GIT_INDEX_FILE: index };
      await run("git", ["read-tree", commit], { env });
      await run("git", ["checkout-index", "-a", `--prefix=${dir}/`], { env, maxBuffer: 1 << 26 });
      await rm(index, { force: true });
      // The reference feeds each shown step with a final newline (its validation heredoc).
      for (const [i, edit] of edits.entries()) {
        if (edit.trim() === "") continue;
        try {
          await gitApply(dir, `${edit}\n`);
        } catch (error) {
          throw new Error(`shown step ${i + 1} does not apply: ${(error as Error).message}`);
        }
      }
      await run("find", [dir, "-type", "f", "-exec", "chmod", "a-w", "{}", "+"]);
      await mkdir(`${dir}.ready`);
      return dir;
    })();
    templates.set(key, entry);
    entry.catch(() => templates.delete(key));
  }
  return entry;
}

let overlayUsable: boolean | undefined;
let swept = false;

/**
 * Trees left by a process that died (kill -9 mid-execution): unmounted and removed, once per
 * process. A tree's directory names the pid that made it.
 */
async function sweepStale(): Promise<void> {
  if (swept) return;
  swept = true;
  for (const name of await readdir(ROOT).catch(() => [] as string[])) {
    const pid = /^run-(\d+)-/.exec(name)?.[1];
    if (!pid || alive(Number(pid))) continue;
    const tree = join(ROOT, name, "tree");
    await run("umount", ["-l", tree]).catch(() => undefined);
    await rm(join(ROOT, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A fresh tree on the template: an overlay mount when possible, else a hard-link copy. */
export async function freshTree(template: string): Promise<Tree> {
  await mkdir(ROOT, { recursive: true, mode: 0o755 });
  await sweepStale();
  const base = await mkdtemp(join(ROOT, `run-${process.pid}-`));
  await chmod(base, 0o755);
  const dir = join(base, "tree");
  await mkdir(dir, { mode: 0o755 });
  const removeBase = () => rm(base, { recursive: true, force: true, maxRetries: 2 });
  if (overlayUsable !== false && process.getuid?.() === 0) {
    try {
      await mkdir(join(base, "upper"));
      await mkdir(join(base, "work"));
      await run("mount", [
        "-t",
        "overlay",
        "overlay",
        "-o",
        `lowerdir=${template},upperdir=${join(base, "upper")},workdir=${join(base, "work")}`,
        dir,
      ]);
      overlayUsable = true;
      return {
        dir,
        kind: "overlay",
        remove: async () => {
          await run("umount", [dir]).catch(() => run("umount", ["-l", dir]));
          await removeBase();
        },
      };
    } catch {
      overlayUsable = false;
    }
  }
  await rm(dir, { recursive: true, force: true });
  await run("cp", ["-al", template, dir]);
  return { dir, kind: "hardlinks", remove: removeBase };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
