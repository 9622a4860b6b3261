/**
 * Sandbox throughput: N trivial tasks (setup `echo x > f`, command `cat f`, check `test -s f`: three
 * steps in one fresh sandbox each) through each sandbox kind at a fixed concurrency.
 *
 *   npx tsx bench/sandbox.ts [--tasks 1000] [--concurrency 4] [--kinds bwrap,local]
 *                            [--image busybox --docker-host unix:///var/run/docker.sock]
 *
 * Prints one JSON line per kind and a human summary. `overhead_ms` is the mean latency of one
 * execution minus the same three commands run as plain `/bin/sh -c` children (no temp dir, no
 * sandbox), measured first. `cpu_ms` is the CPU time one execution costs (this process plus the
 * children it waited for), which depends less on other load on the machine than executions/s.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { forEachConcurrent, type SandboxStep } from "../src/core/index.js";
import { createSandbox, type SandboxKind } from "../src/sandbox/index.js";

const { values } = parseArgs({
  options: {
    tasks: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "4" },
    kinds: { type: "string", default: "bwrap,local" },
    image: { type: "string" },
    "docker-host": { type: "string" },
  },
});
const tasks = Number(values.tasks);
const concurrency = Number(values.concurrency);
const kinds = values.kinds.split(",") as SandboxKind[];

const steps: SandboxStep[] = [
  { name: "setup", command: "echo x > f" },
  { name: "run", command: "cat f" },
  { name: "check", command: "test -s f" },
];

function sh(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", command], { stdio: "ignore", cwd: "/tmp" });
    child.on("exit", () => resolve());
    child.on("error", reject);
  });
}

/** CPU ms of this process plus its reaped children (Linux /proc; clock ticks of 10 ms). */
function cpuMs(): number {
  const own = process.cpuUsage();
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
  const children = (Number(fields[13]) + Number(fields[14])) * 10;
  return (own.user + own.system) / 1000 + children;
}

async function measure(once: () => Promise<boolean>) {
  await once(); // warm-up
  let failures = 0;
  let latency = 0;
  const cpuBefore = cpuMs();
  const started = performance.now();
  await forEachConcurrent(
    Array.from({ length: tasks }, (_, i) => i),
    concurrency,
    async () => {
      const t = performance.now();
      if (!(await once())) failures += 1;
      latency += performance.now() - t;
    },
  );
  const seconds = (performance.now() - started) / 1000;
  return { seconds, meanMs: latency / tasks, cpuMs: (cpuMs() - cpuBefore) / tasks, failures };
}

const baseline = await measure(async () => {
  for (const step of steps) await sh(step.command.replace(" f", " /dev/null"));
  return true;
});

const machine = {
  nproc: availableParallelism(),
  cpu: cpus()[0]?.model ?? "unknown",
  memory_gb: Math.round(totalmem() / 2 ** 30),
  kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
};
const rows = [];
for (const kind of kinds) {
  const sandbox = createSandbox({ kind, image: values.image, dockerHost: values["docker-host"] });
  const result = await measure(async () => {
    const { steps: results } = await sandbox.run(steps, { timeoutMs: 10_000, stopOnFailure: true });
    return (
      results.length === 3 && results.every((step) => step.exit_code === 0) && results[1]?.stdout === "x\n"
    );
  });
  const row = {
    bench: "sandbox",
    kind,
    tasks,
    steps_per_task: steps.length,
    concurrency,
    seconds: Number(result.seconds.toFixed(2)),
    executions_per_s: Number((tasks / result.seconds).toFixed(1)),
    mean_latency_ms: Number(result.meanMs.toFixed(2)),
    overhead_ms: Number((result.meanMs - baseline.meanMs).toFixed(2)),
    cpu_ms: Number(result.cpuMs.toFixed(2)),
    failures: result.failures,
    machine,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
console.log(
  `baseline (3 plain sh spawns): ${baseline.meanMs.toFixed(1)} ms, ${baseline.cpuMs.toFixed(1)} ms CPU per task; ` +
    `${machine.nproc} CPUs, ${machine.memory_gb} GB`,
);
for (const row of rows) {
  console.log(
    `${row.kind}: ${row.tasks} executions in ${row.seconds} s at concurrency ${row.concurrency} = ` +
      `${row.executions_per_s} executions/s, mean ${row.mean_latency_ms} ms each ` +
      `(${row.overhead_ms} ms over plain sh), ${row.cpu_ms} ms CPU each, ${row.failures} failed`,
  );
}
if (rows.some((row) => row.failures > 0)) process.exitCode = 1;
