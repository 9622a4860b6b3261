/**
 * Code-edit retrieval and trees on a generated repository (default 5,000 Python files):
 *  - BM25 index build over the tree at a commit (git ls-tree + cat-file --batch + tokenise +
 *    postings), and queries with a 2,000-token shown-edits query leaving out the edited files;
 *    baseline: reading the same blobs only (what any index must pay).
 *  - Per-execution tree setup: the read-only template is written once; then each execution's
 *    fresh tree (overlay mount as root, else a hard-link copy) and its removal; baseline: a plain
 *    full copy (`cp -a`) of the same tree.
 *
 *  - Whole executions through the patch harness (fresh tree, `git apply` of a one-line patch,
 *    test_patch, a trivial test command in the sandbox, grading): executions/s, one at a time
 *    and two at once.
 *
 *   npx tsx bench/bm25.ts [--files 5000] [--queries 50] [--trees 20] [--executions 20]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { createBwrapSandbox, createLocalSandbox, isBwrapUsable } from "../src/sandbox/index.js";
import { tokenize, topN } from "../src/tasks/code-edit/bm25.js";
import { listTree, readBlobs } from "../src/tasks/code-edit/git.js";
import { runHarness } from "../src/tasks/code-edit/harness.js";
import { treeIndex } from "../src/tasks/code-edit/prepare.js";
import { freshTree, templateTree } from "../src/tasks/code-edit/trees.js";

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "5000" },
    queries: { type: "string", default: "50" },
    trees: { type: "string", default: "20" },
    executions: { type: "string", default: "20" },
  },
});
const nFiles = Number(values.files);

const repo = mkdtempSync(join(tmpdir(), "bench-bm25-"));
const words = ["value", "index", "result", "items", "config", "parser", "tree", "node", "token", "score"];
for (let i = 0; i < nFiles; i++) {
  const path = join(repo, `pkg${i % 50}`, `sub${i % 7}`, `mod_${i}.py`);
  mkdirSync(dirname(path), { recursive: true });
  let text = `"""Module ${i}."""\nimport os\n\n`;
  for (let j = 0; j < 30; j++) {
    const w = words[(i * 7 + j) % words.length];
    text += `def ${w}_${j}_${i % 97}(x, y=${j}):\n    return x.${words[j % words.length]}(y) + ${i * j}\n\n`;
  }
  writeFileSync(path, text);
}
const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: "b",
  GIT_AUTHOR_EMAIL: "b@b",
  GIT_COMMITTER_NAME: "b",
  GIT_COMMITTER_EMAIL: "b@b",
};
execFileSync("git", ["init", "-q"], { cwd: repo });
execFileSync("git", ["add", "-A"], { cwd: repo });
execFileSync("git", ["commit", "-qm", "base"], { cwd: repo, env: gitEnv });
const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: repo, encoding: "utf8" }).trim();

const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
};
/** CPU time of this process (user + system, ms): steadier than wall time on a shared machine. */
const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

// Baseline: the blobs alone.
const [, readMs] = await time(async () => {
  const files = await listTree(repo, commit);
  return readBlobs(
    repo,
    files.map((f) => f.sha),
  );
});
const buildCpu = process.cpuUsage();
const [{ index }, buildMs] = await time(() => treeIndex(repo, commit));
const buildCpuMs = cpuMs(buildCpu);
const [, cachedMs] = await time(() => treeIndex(repo, commit));

const edited = new Set(["pkg0/sub0/mod_0.py", "pkg1/sub1/mod_1.py"]);
const query = tokenize(
  Array.from({ length: 200 }, (_, j) => `+    return x.${words[j % 10]}(y) + ${j}  # parser_${j}`).join("\n"),
).slice(0, 2000);
const queryTimes: number[] = [];
const queryCpu: number[] = [];
for (let q = 0; q < Number(values.queries); q++) {
  const t = performance.now();
  const c = process.cpuUsage();
  topN(index, query, 5, edited);
  queryCpu.push(cpuMs(c));
  queryTimes.push(performance.now() - t);
}
queryTimes.sort((a, b) => a - b);

// Trees.
const [template, templateMs] = await time(() => templateTree(repo, commit, []));
const setup: number[] = [];
const removal: number[] = [];
let kind = "";
for (let i = 0; i < Number(values.trees); i++) {
  const [tree, ms] = await time(() => freshTree(template));
  kind = tree.kind;
  setup.push(ms);
  const [, rm] = await time(() => tree.remove());
  removal.push(rm);
}
const copy: number[] = [];
for (let i = 0; i < 3; i++) {
  const dest = mkdtempSync(join(tmpdir(), "bench-copy-"));
  const t = performance.now();
  execFileSync("cp", ["-a", template, join(dest, "tree")]);
  copy.push(performance.now() - t);
  rmSync(dest, { recursive: true, force: true });
}
// Whole executions: the harness per (instance, sample), the sandbox running a trivial test.
const sandbox = isBwrapUsable() ? createBwrapSandbox() : createLocalSandbox();
const target = "pkg3/sub3/mod_3.py";
const before = execFileSync("git", ["show", `${commit}:${target}`], { cwd: repo, encoding: "utf8" });
const firstLine = before.split("\n")[0] as string;
const modelPatch = `diff --git a/${target} b/${target}\n--- a/${target}\n+++ b/${target}\n@@ -1 +1 @@\n-${firstLine}\n+"""Edited."""\n`;
const spec = {
  instance_id: "bench__exec",
  clone: repo,
  base_commit: commit,
  pre_edits: [],
  test_patch:
    "diff --git a/tests/test_x.py b/tests/test_x.py\nnew file mode 100644\n--- /dev/null\n+++ b/tests/test_x.py\n@@ -0,0 +1 @@\n+def test_x(): pass\n",
  fail_to_pass: [],
  pass_to_pass: [],
  test_command: "echo PASSED tests/test_x.py::test_x",
  log_format: "pytest" as const,
};
const nExec = Number(values.executions);
const execute = async () => {
  const out = await runHarness(modelPatch, spec, { sandbox, timeoutMs: 60_000 });
  if (out.extras?.applied !== true)
    throw new Error(`bench patch did not apply: ${JSON.stringify(out.extras)}`);
};
await execute(); // warm: template written, launcher started
const [, serialMs] = await time(async () => {
  for (let i = 0; i < nExec; i++) await execute();
});
const [, pairMs] = await time(async () => {
  for (let i = 0; i < nExec; i += 2) await Promise.all([execute(), execute()]);
});
await sandbox.close?.();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const result = {
  machine: `${cpus().length} × ${cpus()[0]?.model ?? "?"}`,
  load_average_1m: +(loadavg()[0] as number).toFixed(1),
  files: nFiles,
  read_blobs_ms: Math.round(readMs),
  index_build_ms: Math.round(buildMs),
  index_build_cpu_ms: Math.round(buildCpuMs),
  index_build_over_read: +(buildMs / readMs).toFixed(2),
  index_cached_ms: +cachedMs.toFixed(2),
  query_tokens: query.length,
  query_median_ms: +median(queryTimes).toFixed(2),
  query_cpu_median_ms: +median(queryCpu).toFixed(2),
  query_p95_ms: +(queryTimes[Math.floor(queryTimes.length * 0.95)] as number).toFixed(2),
  template_once_ms: Math.round(templateMs),
  tree_kind: kind,
  tree_setup_median_ms: +median(setup).toFixed(1),
  tree_remove_median_ms: +median(removal).toFixed(1),
  full_copy_median_ms: Math.round(median(copy)),
  setup_over_full_copy: +(median(setup) / median(copy)).toFixed(3),
  sandbox: sandbox.name,
  executions: nExec,
  execution_ms: +(serialMs / nExec).toFixed(1),
  executions_per_s: +((nExec * 1000) / serialMs).toFixed(1),
  executions_per_s_2_at_once: +((2 * Math.ceil(nExec / 2) * 1000) / pairMs).toFixed(1),
};
console.log(JSON.stringify(result));
rmSync(repo, { recursive: true, force: true });
