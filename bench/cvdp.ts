/**
 * CVDP harness executions per second through the CLI (bwrap, the local backend), as a ratio to a
 * hand-written baseline measured in the same run.
 *
 *   npx tsx bench/cvdp.ts [--copies 6] [--concurrency 2] [--rounds 3]
 *
 * The runnable example problems (examples/cvdp/problems.jsonl: a cocotb harness, three plain
 * iverilog testbenches) `--copies` times each under new ids, with gold predictions made beforehand
 * (not timed). Each round times:
 *
 * - baseline: each harness run by a shell script, `xargs -P<concurrency>`: a fresh copy of the
 *   problem's prepared work dir, then `bwrap` with the same binds (/code/{rtl,verif,docs,src,rundir},
 *   /src read-only), environment and command — what one would write by hand to run them;
 * - cli: `benchline run exp.yaml --phase execution` (executions.jsonl removed first), start-up
 *   included; every row must pass.
 *
 * The ratio of a round is cli executions/s ÷ baseline harnesses/s; the median over rounds is the result.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { commandLine, cvdpRow, parseCompose, parseEnvFile, toProblem } from "../src/tasks/cvdp/index.js";

const { values } = parseArgs({
  options: {
    copies: { type: "string", default: "6" },
    concurrency: { type: "string", default: "2" },
    rounds: { type: "string", default: "3" },
  },
});
const copies = Number(values.copies);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const root = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "benchline-bench-cvdp-"));

const source = readFileSync(join(root, "examples/cvdp/problems.jsonl"), "utf8").trim().split("\n");
const runnable = source
  .map((line) => JSON.parse(line) as { id: string; categories: string[] })
  .filter((r) => ["cid002", "cid003", "cid004", "cid016"].includes(r.categories[0] ?? ""));
const rows = runnable.flatMap((r) =>
  Array.from({ length: copies }, (_, i) => ({ ...r, id: `${r.id}_${i}` })),
);
const tasks = rows.length;
writeFileSync(join(dir, "data.jsonl"), rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
writeFileSync(
  join(dir, "exp.yaml"),
  `name: bench\ntask: cvdp\ndataset: data.jsonl\nmodels: [gold]\nexecution: {sandbox: bwrap, concurrency: ${concurrency}, timeout: 120}\n`,
);

// The baseline's prepared work dirs and one shell line per harness.
const bwrap = (work: string, env: Record<string, string>, command: string): string => {
  const binds = ["docs", "rundir", "rtl", "verif", "src"].flatMap((d) => [
    "--bind",
    `"$d/${d}"`,
    `/code/${d}`,
  ]);
  const exports = Object.entries(env)
    .map(([k, v]) => `export ${k}='${v}'`)
    .join("; ");
  return [
    `d=$(mktemp -d) && cp -r ${work}/. "$d" &&`,
    "bwrap --ro-bind /usr /usr --ro-bind /etc /etc --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin",
    "--unshare-all --die-with-parent --proc /proc --dev /dev --tmpfs /tmp",
    ...binds,
    `--ro-bind "$d/src" /src --chdir /code/rundir /bin/sh -c "${exports}; ${command.replaceAll('"', '\\"')}" > /dev/null 2>&1;`,
    's=$?; rm -rf "$d"; exit $s',
  ].join(" ");
};
const lines: string[] = [];
for (const row of rows) {
  const problem = toProblem(cvdpRow.parse(row));
  const work = join(dir, "work", row.id);
  const files = { ...problem.context, ...problem.expected, ...problem.harness };
  for (const d of ["docs", "rundir", "rtl", "verif", "src"]) mkdirSync(join(work, d), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), text);
  }
  const compose = parseCompose(problem.harness["docker-compose.yml"] ?? "", problem.harness);
  if (!compose.ok) throw new Error(compose.error);
  for (const service of compose.services) {
    const env = {
      ...parseEnvFile(problem.harness["src/.env"] ?? ""),
      HOME: "/code/rundir",
      COCOTB_RANDOM_SEED: "1",
    };
    lines.push(bwrap(work, env, service.command ? commandLine(service.command, env) : "false"));
  }
}
writeFileSync(join(dir, "baseline.txt"), lines.map((l) => `${l}\n`).join(""));
const baselineScript = `tr '\\n' '\\0' < baseline.txt | xargs -0 -P ${concurrency} -n 1 sh -c`;

function timed(file: string, args: string[], cwd: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0) resolvePromise((performance.now() - started) / 1000);
      else reject(new Error(`${file} ${args.join(" ")} exited ${code}\n${stderr}`));
    });
  });
}
const cli = (...args: string[]) =>
  timed(
    process.execPath,
    [
      "--import",
      pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href,
      join(root, "src/cli/bin.ts"),
      ...args,
    ],
    dir,
  );

await cli("run", "exp.yaml", "--phase", "inference", "--log", "plain");
const experiment = join(dir, "runs", "bench");
const trial = join(experiment, readdirSync(experiment).find((d) => d.includes("__")) ?? "");
function checkExecutions(): void {
  const rowsOut = readFileSync(join(trial, "executions.jsonl"), "utf8").trim().split("\n");
  const passed = rowsOut.filter((l) => (JSON.parse(l) as { passed: boolean }).passed).length;
  if (rowsOut.length !== tasks || passed !== tasks)
    throw new Error(`expected ${tasks} passing executions, got ${passed} of ${rowsOut.length}`);
}

const machine = {
  nproc: availableParallelism(),
  cpu: cpus()[0]?.model ?? "unknown",
  memory_gb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  iverilog: execFileSync("iverilog", ["-V"], { encoding: "utf8" }).split("\n")[0],
};
const results: { ratio: number; baseline: number; cli: number }[] = [];
for (let round = 1; round <= rounds; round++) {
  const baselineSeconds = await timed("/bin/sh", ["-c", baselineScript], dir);
  rmSync(join(trial, "executions.jsonl"), { force: true });
  const cliSeconds = await cli("run", "exp.yaml", "--phase", "execution", "--log", "plain");
  checkExecutions();
  const baseline = tasks / baselineSeconds;
  const rate = tasks / cliSeconds;
  results.push({ ratio: rate / baseline, baseline, cli: rate });
  console.log(
    JSON.stringify({
      bench: "cvdp",
      round,
      harnesses: tasks,
      concurrency,
      baseline_s: Number(baselineSeconds.toFixed(2)),
      baseline_per_s: Number(baseline.toFixed(2)),
      cli_s: Number(cliSeconds.toFixed(2)),
      cli_per_s: Number(rate.toFixed(2)),
      ratio: Number((rate / baseline).toFixed(2)),
      machine,
    }),
  );
}
rmSync(dir, { recursive: true, force: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
console.log(
  `cvdp harnesses through \`benchline run --phase execution\` (bwrap): ${tasks} at concurrency ${concurrency}, ${rounds} round(s): ` +
    `ratio to hand-written bwrap = median ${median(results.map((r) => r.ratio)).toFixed(2)}× ` +
    `(rounds ${results.map((r) => r.ratio.toFixed(2)).join(" / ")}); cli ${results.map((r) => r.cli.toFixed(2)).join(" / ")} executions/s, ` +
    `baseline ${results.map((r) => r.baseline.toFixed(2)).join(" / ")} harnesses/s; ${machine.nproc} CPUs`,
);
