/**
 * Sandbox throughput through the CLI, as a ratio to an unsandboxed baseline measured in the same run.
 *
 *   npx tsx bench/sandbox.ts [--tasks 2000] [--concurrency 4] [--sandbox bwrap] [--rounds 3]
 *
 * N trivial shell tasks (setup `echo x > f`, command `cat f`, check `test -s f`) with gold
 * predictions made beforehand (`benchline run --phase inference`, not timed). Each round times:
 *
 * - baseline: the same three steps unsandboxed, `seq N | xargs -P<concurrency> sh -c '...'`, each
 *   task in a temp dir of its own (mktemp -d, removed after);
 * - cli: `benchline run exp.yaml --phase execution` on those predictions (executions.jsonl removed
 *   first), the whole command from start to exit, start-up included; every row must pass.
 *
 * Rounds alternate baseline and cli so both see the same load; the ratio of each round is
 * cli executions/s ÷ baseline tasks/s, and the median over rounds is the result. One JSON line per
 * round, then a summary line. `startup_s` is a CLI run with nothing left to do (start-up, reading
 * the files, reports), part of every cli time.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    tasks: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "4" },
    sandbox: { type: "string", default: "bwrap" },
    rounds: { type: "string", default: "3" },
  },
});
const tasks = Number(values.tasks);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const root = resolve(import.meta.dirname, "..");

const dir = mkdtempSync(join(tmpdir(), "benchline-bench-sandbox-"));
const rows = Array.from({ length: tasks }, (_, i) => ({
  id: `t${i}`,
  task: "Print the content of f.",
  setup_commands: ["echo x > f"],
  success_condition: "test -s f",
  reference: "cat f",
}));
writeFileSync(join(dir, "data.jsonl"), rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
writeFileSync(
  join(dir, "exp.yaml"),
  `name: bench\ntask: shell\ndataset: data.jsonl\nmodels: [gold]\nscorers: [exec]\n` +
    `execution: {sandbox: ${values.sandbox}, concurrency: ${concurrency}, timeout: 30}\n`,
);

/** Runs a command to completion; resolves with its wall time in seconds. */
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

const cliArgs = (...args: string[]) => [
  "--import",
  pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href,
  join(root, "src/cli/bin.ts"),
  ...args,
];
const cli = (...args: string[]) => timed(process.execPath, cliArgs(...args), dir);

const baselineScript =
  `seq ${tasks} | xargs -P ${concurrency} -n 1 sh -c ` +
  `'d=$(mktemp -d) && cd "$d" && echo x > f && cat f && test -s f; s=$?; cd / && rm -rf "$d"; exit $s' sh > /dev/null`;

await cli("run", "exp.yaml", "--phase", "inference", "--log", "plain");
const experiment = join(dir, "runs", "bench");
const trial = join(experiment, readdirSync(experiment).find((d) => d.includes("__")) ?? "");

function checkExecutions(): number {
  const lines = readFileSync(join(trial, "executions.jsonl"), "utf8").trim().split("\n");
  const passed = lines.filter((l) => (JSON.parse(l) as { passed: boolean }).passed).length;
  if (lines.length !== tasks || passed !== tasks) {
    throw new Error(`expected ${tasks} passing executions, got ${passed} of ${lines.length}`);
  }
  return passed;
}

const machine = {
  nproc: availableParallelism(),
  cpu: cpus()[0]?.model ?? "unknown",
  memory_gb: Math.round(totalmem() / 2 ** 30),
  kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
  node: process.version,
};
const results: Array<{ ratio: number; baseline: number; cli: number; startup: number }> = [];
for (let round = 1; round <= rounds; round++) {
  const baselineSeconds = await timed("/bin/sh", ["-c", baselineScript], dir);
  rmSync(join(trial, "executions.jsonl"), { force: true });
  const cliSeconds = await cli("run", "exp.yaml", "--phase", "execution", "--log", "plain");
  checkExecutions();
  const startupSeconds = await cli("run", "exp.yaml", "--phase", "execution", "--log", "plain");
  const baseline = tasks / baselineSeconds;
  const rate = tasks / cliSeconds;
  const row = {
    bench: "sandbox",
    round,
    sandbox: values.sandbox,
    tasks,
    concurrency,
    baseline_s: Number(baselineSeconds.toFixed(2)),
    baseline_per_s: Number(baseline.toFixed(1)),
    cli_s: Number(cliSeconds.toFixed(2)),
    cli_per_s: Number(rate.toFixed(1)),
    startup_s: Number(startupSeconds.toFixed(2)),
    ratio: Number((rate / baseline).toFixed(2)),
    machine,
  };
  results.push({ ratio: row.ratio, baseline, cli: rate, startup: startupSeconds });
  console.log(JSON.stringify(row));
}
rmSync(dir, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
console.log(
  `${values.sandbox} through \`benchline run --phase execution\`: ${tasks} tasks at concurrency ${concurrency}, ` +
    `${rounds} round(s): ratio to xargs -P${concurrency} sh = median ${median(results.map((r) => r.ratio)).toFixed(2)}× ` +
    `(rounds ${results.map((r) => r.ratio.toFixed(2)).join(" / ")}); ` +
    `cli ${results.map((r) => r.cli.toFixed(0)).join(" / ")} executions/s, ` +
    `baseline ${results.map((r) => r.baseline.toFixed(0)).join(" / ")} tasks/s, ` +
    `start-up ${results.map((r) => r.startup.toFixed(1)).join(" / ")} s; ${machine.nproc} CPUs`,
);
