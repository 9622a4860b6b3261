import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const IDENTITY = {
  GIT_AUTHOR_NAME: "fixture",
  GIT_AUTHOR_EMAIL: "fixture@example.invalid",
  GIT_AUTHOR_DATE: "2000-01-01T00:00:00+0000",
  GIT_COMMITTER_NAME: "fixture",
  GIT_COMMITTER_EMAIL: "fixture@example.invalid",
  GIT_COMMITTER_DATE: "2000-01-01T00:00:00+0000",
};

export function git(cwd: string, args: string[], input?: string): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...IDENTITY },
    ...(input !== undefined ? { input } : {}),
  });
}

/** A git repository with `files` committed as `base` (fixed identity and dates); returns dir and sha. */
export function makeRepo(files: Record<string, string>, dir = mkdtempSync(join(tmpdir(), "ce-repo-"))) {
  mkdirSync(dir, { recursive: true });
  git(dir, ["init", "-q"]);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  git(dir, ["add", "-A"]);
  git(dir, ["commit", "-qm", "base"]);
  return { dir, commit: git(dir, ["rev-parse", "HEAD"]).trim() };
}

/** The diff of one file between two contents, as git writes it (a/ b/ paths). */
export function fileDiff(path: string, before: string, after: string): string {
  const dir = mkdtempSync(join(tmpdir(), "ce-diff-"));
  mkdirSync(join(dir, "a", dirname(path)), { recursive: true });
  mkdirSync(join(dir, "b", dirname(path)), { recursive: true });
  writeFileSync(join(dir, "a", path), before);
  writeFileSync(join(dir, "b", path), after);
  try {
    execFileSync("git", ["diff", "--no-index", "--no-prefix", join("a", path), join("b", path)], {
      cwd: dir,
    });
    return "";
  } catch (error) {
    const out = String((error as { stdout: Buffer }).stdout);
    return out
      .replace(/^diff --git .*$/m, `diff --git a/${path} b/${path}`)
      .replace(/^index .*\n/m, "")
      .replace(/^--- .*$/m, `--- a/${path}`)
      .replace(/^\+\+\+ .*$/m, `+++ b/${path}`);
  }
}
