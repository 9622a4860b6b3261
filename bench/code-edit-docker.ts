/**
 * Code-edit executions in an image per instance (docker) against the host harness (bwrap) in the
 * same run: the gold patch of a small instance through the whole harness (docker: a container
 * from the instance image, setup, the apply chain, test reset + test_patch, pytest, removal;
 * bwrap: overlay tree, the same chain, the same pytest), one at a time. Needs root (a private
 * dockerd is started, as the tests do) and the host tools the test image is built from.
 *
 *   npx tsx bench/code-edit-docker.ts [--executions 10]
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createBwrapSandbox, createDockerSandbox } from "../src/sandbox/index.js";
import { startTestDockerd } from "../src/sandbox/test-utils/dockerd.js";
import { runHarness } from "../src/tasks/code-edit/harness.js";
import { runDockerHarness } from "../src/tasks/code-edit/harness-docker.js";
import { C0, calcRows, T0 } from "../test/code-edit-calc.js";
import { canBuildCodeEditImage, importCodeEditImage, tagImage } from "../test/code-edit-image.js";
import { makeRepo } from "../test/code-edit-repo.js";

const { values } = parseArgs({ options: { executions: { type: "string", default: "10" } } });
const n = Number(values.executions);
if (!canBuildCodeEditImage()) throw new Error("needs busybox-static, python3.11, git, patch and dash");
const started = await startTestDockerd();
if (!started.ok) throw new Error(started.reason);
const docker = started.docker;
try {
  const repo = makeRepo({ "calc.py": C0, "tests/__init__.py": "", "tests/test_calc.py": T0 });
  const row = calcRows(repo.commit)[1] as Record<string, string>;
  const image = `benchline-bench/sweb.eval.x86_64.${row.instance_id}`;
  await tagImage(docker.socketPath, await importCodeEditImage(docker.socketPath, repo.dir), image);
  const common = {
    instance_id: row.instance_id as string,
    base_commit: repo.commit,
    pre_edits: [],
    test_patch: row.test_patch as string,
    fail_to_pass: JSON.parse(row.FAIL_TO_PASS as string) as string[],
    pass_to_pass: JSON.parse(row.PASS_TO_PASS as string) as string[],
    test_command: "python3 -m pytest -rA -p no:cacheprovider {tests}",
    log_format: "pytest" as const,
  };
  const patch = row.patch as string;
  const inDocker = createDockerSandbox({ image, dockerHost: `unix://${docker.socketPath}` });
  const bwrap = createBwrapSandbox({});
  const kinds = {
    docker: () => runDockerHarness(patch, { ...common, image }, { sandbox: inDocker, timeoutMs: 120_000 }),
    bwrap: () => runHarness(patch, { ...common, clone: repo.dir }, { sandbox: bwrap, timeoutMs: 120_000 }),
  };
  const times: Record<string, { wall: number[]; cpu: number[] }> = {};
  for (const [name, run] of Object.entries(kinds)) {
    const warm = await run();
    if (!warm.passed) throw new Error(`${name}: gold did not resolve: ${JSON.stringify(warm.extras)}`);
    times[name] = { wall: [], cpu: [] };
  }
  // Interleaved, so both kinds see the same load.
  for (let i = 0; i < n; i++)
    for (const [name, run] of Object.entries(kinds)) {
      const cpu = process.cpuUsage();
      const t = performance.now();
      const out = await run();
      if (!out.passed) throw new Error(`${name}: gold did not resolve`);
      times[name]?.wall.push(performance.now() - t);
      const used = process.cpuUsage(cpu);
      times[name]?.cpu.push((used.user + used.system) / 1000);
    }
  await bwrap.close?.();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const d = times.docker as { wall: number[]; cpu: number[] };
  const b = times.bwrap as { wall: number[]; cpu: number[] };
  console.log(
    JSON.stringify({
      machine: `${cpus().length} × ${cpus()[0]?.model ?? "?"}`,
      load_average_1m: +(loadavg()[0] as number).toFixed(1),
      executions: n,
      docker_median_ms: Math.round(median(d.wall)),
      docker_node_cpu_median_ms: Math.round(median(d.cpu)),
      bwrap_median_ms: Math.round(median(b.wall)),
      bwrap_node_cpu_median_ms: Math.round(median(b.cpu)),
      docker_over_bwrap: +(median(d.wall) / median(b.wall)).toFixed(2),
    }),
  );
} finally {
  await docker.stop();
}
