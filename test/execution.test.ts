import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCliAsync, spawnCli, testdir } from "./helpers.js";

/** The execution phase through the CLI: interrupts, timeouts, sandboxes that cannot start. */

const jsonl = (path: string) =>
  existsSync(path)
    ? readFileSync(path, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
const trialOf = (dir: string, name = "exec") => {
  const exp = join(dir, "runs", name);
  return join(exp, readdirSync(exp).filter((d) => d.includes("__"))[0]!);
};

const config = (execution = "timeout: 20, concurrency: 4") => `
name: exec
task: shell
dataset: data.jsonl
models: [gold]
scorers: [exec]
execution: {${execution}}
`;

// Two quick tasks finish first; the other six are still sleeping when Ctrl-C arrives.
const rows = Array.from({ length: 8 }, (_, i) => ({
  id: `t${i}`,
  task: "Create a file named f.",
  setup_commands: [i < 2 ? "true" : "sleep 4"],
  success_condition: "test -f f",
  reference: "touch f",
}));

/** Starts the CLI, sends SIGINT once `rowsBefore` execution rows were written, waits for the exit. */
async function interruptDuringExecution(args: string[], dir: string, rowsBefore: number) {
  const child = spawnCli([...args, "--log", "json"], dir);
  let stderr = "";
  let executed = 0;
  let interrupted = false;
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    executed = stderr
      .split("\n")
      .filter((l) => l.includes('"type":"row"') && l.includes('"execution"')).length;
    if (!interrupted && executed >= rowsBefore) {
      interrupted = true;
      setTimeout(() => child.kill("SIGINT"), 300);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stderr, executed };
}

describe("execution phase", () => {
  for (const command of ["run", "execute"] as const) {
    it(`defect 8.1: Ctrl-C during execution (${command}) records no aborted row, and the rerun scores 100%`, async () => {
      const dir = testdir({
        "exp.yaml": config(),
        "data.jsonl": rows,
        "commands.jsonl": rows.map((r) => ({ task_id: r.id, generated_command: r.reference })),
      });
      const args =
        command === "run" ? ["run", "exp.yaml"] : ["execute", "exp.yaml", "--predictions", "commands.jsonl"];
      const first = await interruptDuringExecution(args, dir, 2);
      expect(first.code, first.stderr).toBe(130);
      const executions = join(trialOf(dir), "executions.jsonl");
      const written = jsonl(executions);
      expect(written.length).toBeGreaterThanOrEqual(2);
      expect(written.length).toBeLessThan(rows.length);
      expect(readFileSync(executions, "utf8")).not.toContain("aborted");
      expect(written.every((e) => e.passed === true)).toBe(true);

      const rerun = await runCliAsync(args, dir);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(rerun.stderr).toMatch(/gold__default__[0-9a-f]{8}: 100\.0%|: 100\.0%/);
      const all = jsonl(executions);
      expect(all).toHaveLength(rows.length);
      expect(new Set(all.map((e) => e.id)).size).toBe(rows.length);
      expect(all.every((e) => e.passed === true && e.status === "ok")).toBe(true);
      expect(readFileSync(executions, "utf8")).not.toContain("[benchline: aborted");
      const summary = JSON.parse(readFileSync(join(trialOf(dir), "summary.json"), "utf8"));
      expect(summary.mean_score).toBe(1);
    }, 120_000);
  }

  it("defect 8.1: a row an older version wrote for an aborted run is executed again", async () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": rows.slice(0, 2) });
    expect((await runCliAsync(["run", "exp.yaml"], dir)).code).toBe(0);
    const path = join(trialOf(dir), "executions.jsonl");
    const [first, second] = jsonl(path);
    // What benchline 0.1.0 wrote when Ctrl-C killed the sandbox during the command.
    first.passed = false;
    first.overall_success = false;
    first.steps[1] = {
      ...first.steps[1],
      exit_code: null,
      timed_out: false,
      stderr: "\n[benchline: aborted, process tree killed]\n",
    };
    writeFileSync(path, `${JSON.stringify(first)}\n${JSON.stringify(second)}\n`);
    const rerun = await runCliAsync(["run", "exp.yaml"], dir);
    expect(rerun.code, rerun.stderr).toBe(0);
    const after = jsonl(path);
    expect(after).toHaveLength(3);
    expect(after[2]).toMatchObject({ id: first.id, passed: true });
    expect(JSON.parse(readFileSync(join(trialOf(dir), "summary.json"), "utf8")).mean_score).toBe(1);
  }, 60_000);

  it("defect 8.7: a command that timed out fails its row even when the success condition holds", async () => {
    const dir = testdir({
      "exp.yaml": config("timeout: 1, concurrency: 2"),
      "data.jsonl": [
        {
          id: "slow",
          task: "Create f.",
          setup_commands: [],
          success_condition: "test -f f",
          reference: "touch f; sleep 30",
        },
        {
          id: "fails",
          task: "Create f.",
          setup_commands: [],
          success_condition: "test -f f",
          reference: "touch f; exit 3",
        },
        {
          id: "slow-setup",
          task: "x",
          setup_commands: ["sleep 30"],
          success_condition: "true",
          reference: "true",
        },
        { id: "slow-test", task: "x", setup_commands: [], success_condition: "sleep 30", reference: "true" },
      ],
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code, r.stderr).toBe(0);
    const byId = new Map(jsonl(join(trialOf(dir), "executions.jsonl")).map((e) => [e.id, e]));
    expect(byId.get("slow")).toMatchObject({
      passed: false,
      overall_success: false,
      command_success: false,
      test_passed: true,
      failure_reason: "command timed out",
    });
    expect(byId.get("slow").steps.find((s: { name: string }) => s.name === "command").timed_out).toBe(true);
    // The documented rule: a non-zero exit alone does not fail the row; the success condition decides.
    expect(byId.get("fails")).toMatchObject({ passed: true, command_success: false, command_exit_code: 3 });
    expect(byId.get("fails").failure_reason).toBeUndefined();
    // Every timed-out step says so in the row's reason.
    expect(byId.get("slow-setup")).toMatchObject({
      passed: false,
      failure_reason: "setup step setup_1 timed out",
    });
    expect(byId.get("slow-test")).toMatchObject({
      passed: false,
      failure_reason: "success condition timed out",
    });
    const scores = jsonl(join(trialOf(dir), "scores.jsonl"));
    expect(scores.find((s) => s.id === "slow")).toMatchObject({ passed: false, value: 0 });
  }, 60_000);

  it("a docker sandbox whose daemon is not there fails at start-up with one message, exit 2", async () => {
    const socket = join(testdir({}), "no-such-docker.sock");
    const dir = testdir({
      "exp.yaml": config("sandbox: docker, image: busybox:latest"),
      "data.jsonl": rows,
    });
    const started = Date.now();
    const r = await runCliAsync(["run", "exp.yaml"], dir, { DOCKER_HOST: `unix://${socket}` });
    expect(r.code).toBe(2);
    expect(Date.now() - started).toBeLessThan(20_000);
    const lines = r.stderr.trim().split("\n");
    expect(lines.filter((l) => l.includes("docker"))).toHaveLength(1);
    expect(r.stderr).toContain(socket);
    expect(r.stderr).toMatch(/cannot reach the docker daemon .*ENOENT.*dockerd/);
    expect(existsSync(join(dir, "runs"))).toBe(false); // nothing was written, nothing was asked of a model
  }, 60_000);

  it("--phase execution without predictions says to run inference first and exits 2", async () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": rows.slice(0, 2) });
    const missing = await runCliAsync(["run", "exp.yaml", "--phase", "execution"], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no predictions");
    expect(missing.stderr).toContain("benchline run exp.yaml --phase inference");
    expect(existsSync(join(dir, "runs"))).toBe(false);

    // A trial directory whose predictions.jsonl is empty is no better.
    expect((await runCliAsync(["run", "exp.yaml", "--phase", "prompts"], dir)).code).toBe(0);
    writeFileSync(join(trialOf(dir), "predictions.jsonl"), "");
    const empty = await runCliAsync(["run", "exp.yaml", "--phase", "execution"], dir);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("run inference first");

    expect((await runCliAsync(["run", "exp.yaml", "--phase", "inference"], dir)).code).toBe(0);
    const ok = await runCliAsync(["run", "exp.yaml", "--phase", "execution"], dir);
    expect(ok.code, ok.stderr).toBe(0);
    expect(jsonl(join(trialOf(dir), "executions.jsonl"))).toHaveLength(2);
  }, 60_000);
});
