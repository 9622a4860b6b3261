import { childProcess, execFileAsync } from "../../core/builtins.js";

const run = execFileAsync;

/** Runs git in `cwd`; returns stdout as a Buffer. */
export async function git(cwd: string, args: string[], input?: string): Promise<Buffer> {
  if (input === undefined) {
    const { stdout } = await run("git", args, { cwd, encoding: "buffer", maxBuffer: 1 << 30 });
    return stdout;
  }
  return new Promise((resolveRun, reject) => {
    const child = childProcess().execFile(
      "git",
      args,
      { cwd, encoding: "buffer", maxBuffer: 1 << 30 },
      (error, stdout, stderr) => {
        if (error) reject(Object.assign(error, { stderr: stderr.toString() }));
        else resolveRun(stdout);
      },
    );
    child.stdin?.end(input);
  });
}

/** The commit's sha, or undefined when the clone does not have it. */
export async function resolveCommit(clone: string, commit: string): Promise<string | undefined> {
  try {
    return (await git(clone, ["rev-parse", "--verify", "--quiet", `${commit}^{commit}`])).toString().trim();
  } catch {
    return undefined;
  }
}

/** Content of `path` at `commit`, or undefined when the file does not exist there. */
export async function readAt(clone: string, commit: string, path: string): Promise<Buffer | undefined> {
  try {
    return await git(clone, ["cat-file", "blob", `${commit}:${path}`]);
  } catch {
    return undefined;
  }
}

/** Every blob of a tree: [path, sha] (regular files only, not symlinks or submodules). */
export async function listTree(clone: string, commit: string): Promise<{ path: string; sha: string }[]> {
  const out = (await git(clone, ["ls-tree", "-r", "-z", commit])).toString();
  const files: { path: string; sha: string }[] = [];
  for (const entry of out.split("\0")) {
    if (!entry) continue;
    const tab = entry.indexOf("\t");
    const [mode, type, sha] = entry.slice(0, tab).split(" ");
    if (type === "blob" && mode !== "120000" && sha) files.push({ path: entry.slice(tab + 1), sha });
  }
  return files;
}

/** Contents of many blobs through one `git cat-file --batch`. */
export async function readBlobs(clone: string, shas: string[]): Promise<Buffer[]> {
  if (shas.length === 0) return [];
  const out = await git(clone, ["cat-file", "--batch"], `${shas.join("\n")}\n`);
  const blobs: Buffer[] = [];
  let pos = 0;
  for (let i = 0; i < shas.length; i++) {
    const nl = out.indexOf(10, pos);
    const header = out.subarray(pos, nl).toString();
    const size = Number(header.split(" ")[2]);
    blobs.push(out.subarray(nl + 1, nl + 1 + size));
    pos = nl + 1 + size + 1;
  }
  return blobs;
}

export async function treeOf(clone: string, commit: string): Promise<string> {
  return (await git(clone, ["rev-parse", `${commit}^{tree}`])).toString().trim();
}
