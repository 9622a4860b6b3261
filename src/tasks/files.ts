/**
 * Files out of a completion: fenced code blocks that name their file, or — when a task expects
 * one file at a known path — the last fenced block (or the whole completion) as that file.
 */
export interface FilesArtifact {
  files: Record<string, string>;
  /** How the files were found. */
  method: "named_blocks" | "single_block" | "whole_completion" | "none";
  /** Named paths that were refused (absolute, or leaving the work dir). */
  rejected?: string[];
}

const FENCE = /```([^\n`]*)\n([\s\S]*?)```/g;
// A file name on the line before a block: `src/app.py:`, `**app.py**`, `File: app.py`, `### app.py`.
const NAME_BEFORE =
  /(?:^|\n)[ \t]*(?:#+\s*|[-*]\s*)?(?:\*\*|`)?(?:file(?:name)?:\s*)?([\w./-]+\.[\w]+)(?:\*\*|`)?:?[ \t]*\n?$/i;
// ...or on the block's info string: ```python title="app.py"``` / ```app.py``` / ```py app.py```.
const NAME_IN_INFO = /(?:title|file(?:name)?)=["']?([\w./-]+)["']?|(?:^|\s)([\w./-]+\.[\w]+)\s*$/;
// ...or a first-line comment inside the block: `# file: app.py` / `// app.py`.
const NAME_IN_FIRST_LINE = /^\s*(?:#|\/\/|--|;)\s*(?:file(?:name)?:\s*)?([\w./-]+\.[\w]+)\s*\n/i;

/** Is this a relative path that stays inside the work dir? */
export function isSafePath(path: string): boolean {
  if (path === "" || path.startsWith("/") || path.includes("\\")) return false;
  return !path.split("/").some((part) => part === ".." || part === "");
}

export function parseFiles(completion: string, targetPath?: string): FilesArtifact {
  const files: Record<string, string> = {};
  const rejected: string[] = [];
  const blocks: string[] = [];
  for (const match of completion.matchAll(FENCE)) {
    const info = match[1] ?? "";
    let body = match[2] ?? "";
    const before = completion.slice(0, match.index);
    let name = NAME_IN_INFO.exec(info)?.slice(1).find(Boolean);
    if (!name) {
      const first = NAME_IN_FIRST_LINE.exec(body);
      if (first?.[1]) {
        name = first[1];
        body = body.slice(first[0].length);
      }
    }
    name ??= NAME_BEFORE.exec(before.split("```").at(-1) ?? "")?.[1];
    blocks.push(body);
    if (!name) continue;
    if (!isSafePath(name)) rejected.push(name);
    else files[name] = body;
  }
  const extra = rejected.length > 0 ? { rejected } : {};
  if (Object.keys(files).length > 0) {
    // A task that wants one known file also accepts it under another name when it is the only one.
    if (targetPath && !(targetPath in files) && Object.keys(files).length === 1) {
      return { files: { [targetPath]: Object.values(files)[0]! }, method: "single_block", ...extra };
    }
    return { files, method: "named_blocks", ...extra };
  }
  if (targetPath) {
    const last = blocks.at(-1);
    if (last !== undefined) return { files: { [targetPath]: last }, method: "single_block", ...extra };
    if (completion.trim() !== "")
      return { files: { [targetPath]: `${completion.trim()}\n` }, method: "whole_completion", ...extra };
  }
  return { files: {}, method: "none", ...extra };
}

/** Files as a completion that `parseFiles` reads back: one named fenced block each. */
export function renderFiles(files: Record<string, string>): string {
  return Object.entries(files)
    .map(([path, content]) => `${path}\n\`\`\`\n${content.endsWith("\n") ? content : `${content}\n`}\`\`\``)
    .join("\n\n");
}
