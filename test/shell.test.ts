import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCliAsync, testdir } from "./helpers.js";

const shellRows = readFileSync(join(ROOT, "examples/data/shell-tasks.jsonl"), "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l));

const config = (extra = "") => `
name: shell
task: shell
dataset: data.jsonl
models: [gold]
scorers: [exec]
execution: {timeout: 5, concurrency: 4, memory_mb: 256, pids: 64${extra}}
`;

const jsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
const trialOf = (dir: string, name = "shell") => {
  const exp = join(dir, "runs", name);
  return join(exp, readdirSync(exp).filter((d) => d.includes("__"))[0]!);
};

describe("shell task, two phases", () => {
  it("gold scores 100% on the shipped 35 tasks in the bwrap sandbox", async () => {
    const r = await runCliAsync(
      ["run", join(ROOT, "examples/shell-tasks.yaml"), "--model", "gold", "--out", join(testdir({}), "runs")],
      ROOT,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/gold__default__[0-9a-f]{8}: 100\.0%/);
  });

  it("--phase inference writes predictions only; --phase execution executes them without calling a model; --retry-failed re-executes failures only", async () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": shellRows.slice(0, 6) });
    expect((await runCliAsync(["run", "exp.yaml", "--phase", "inference"], dir)).code).toBe(0);
    const trial = trialOf(dir);
    expect(existsSync(join(trial, "executions.jsonl"))).toBe(false);
    // Tamper with one prediction the way a bad model would: its command does nothing.
    const preds = jsonl(join(trial, "predictions.jsonl"));
    preds[0].completion = "```sh\ntrue\n```";
    writeFileSync(join(trial, "predictions.jsonl"), preds.map((p) => `${JSON.stringify(p)}\n`).join(""));
    const before = readFileSync(join(trial, "predictions.jsonl"), "utf8");

    expect((await runCliAsync(["run", "exp.yaml", "--phase", "execution"], dir)).code).toBe(0);
    expect(readFileSync(join(trial, "predictions.jsonl"), "utf8")).toBe(before);
    const executions = jsonl(join(trial, "executions.jsonl"));
    expect(executions).toHaveLength(6);
    const failed = executions.find((e) => e.id === preds[0].id);
    expect(failed).toMatchObject({
      passed: false,
      overall_success: false,
      command: "true",
      command_success: true,
      test_passed: false,
      failure_reason: "success condition failed",
      sandbox: "bwrap",
    });
    const ok = executions.find((e) => e.id === preds[1].id);
    expect(ok).toMatchObject({
      passed: true,
      command_exit_code: 0,
      test_exit_code: 0,
      parse_method: "fenced",
    });
    expect(ok.steps.map((s: { name: string }) => s.name)).toEqual([
      ...shellRows[1].setup_commands.map((_: string, i: number) => `setup_${i + 1}`),
      "command",
      "test",
    ]);
    expect(typeof ok.start_time).toBe("string");

    // A rerun of execution does nothing; --retry-failed re-runs only the failed one.
    expect((await runCliAsync(["run", "exp.yaml", "--phase", "execution"], dir)).code).toBe(0);
    expect(jsonl(join(trial, "executions.jsonl"))).toHaveLength(6);
    expect((await runCliAsync(["run", "exp.yaml", "--phase", "execution", "--retry-failed"], dir)).code).toBe(
      0,
    );
    const after = jsonl(join(trial, "executions.jsonl"));
    expect(after).toHaveLength(7);
    expect(after.at(-1).id).toBe(preds[0].id);
    // --retry-errors (the spelling) does the same.
    expect((await runCliAsync(["run", "exp.yaml", "--phase", "execution", "--retry-errors"], dir)).code).toBe(
      0,
    );
    expect(
      jsonl(join(trial, "executions.jsonl"))
        .map((e) => e.id)
        .slice(6),
    ).toEqual([preds[0].id, preds[0].id]);
    expect(readFileSync(join(trial, "predictions.jsonl"), "utf8")).toBe(before);

    const report = await runCliAsync(["run", "exp.yaml", "--phase", "score"], dir);
    expect(report.code).toBe(0);
    const summary = JSON.parse(readFileSync(join(trial, "summary.json"), "utf8"));
    expect(summary).toMatchObject({
      executions: { passed: 5, failed: 1, error: 0 },
      predictions: { error: 0 },
    });
    expect(summary.mean_score).toBeCloseTo(5 / 6, 5);
  });

  it("benchline execute runs a commands.jsonl produced elsewhere", async () => {
    const commands = shellRows
      .slice(0, 4)
      .map((r, i) => ({ task_id: r.id, generated_command: i === 3 ? "echo wrong" : r.reference }));
    const dir = testdir({
      "exp.yaml": config(),
      "data.jsonl": shellRows.slice(0, 4),
      "commands.jsonl": commands,
    });
    const r = await runCliAsync(
      ["execute", "exp.yaml", "--predictions", "commands.jsonl", "--name", "batch"],
      dir,
    );
    expect(r.code).toBe(0);
    const executions = jsonl(join(trialOf(dir), "executions.jsonl"));
    expect(executions.filter((e) => e.passed)).toHaveLength(3);
    expect(executions.find((e) => e.id === shellRows[3].id).command).toBe("echo wrong");
  });
});

describe("containment: hostile commands fail with a reason and the run goes on", () => {
  it("network, writes outside the work dir, fork bomb, memory, output flood, infinite loop, leftover process", async () => {
    // A host file the sandbox must not reach (its /tmp is private: the same path inside is another file).
    const canary = join(tmpdir(), `benchline-canary-${process.pid}`);
    writeFileSync(canary, "untouched");
    const secret = "sk-live-canary-8d2c41";
    const hostile: Record<string, string> = {
      network:
        "wget -q -T 2 -O net.txt http://127.0.0.1:9/ || curl -s -m 2 -o net.txt http://127.0.0.1:9/ ; python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), 2)\" && echo reached > net.txt",
      etc: "echo owned > /etc/benchline-owned && echo owned > notes.txt",
      home: `echo owned > ${homedir()}/benchline-owned && echo owned > ${canary} && touch notes.txt`,
      forkbomb: "bomb() { bomb | bomb & }; bomb",
      memory:
        'python3 -c "x = bytearray(2 * 1024 * 1024 * 1024)" || head -c 2000000000 /dev/zero | tail > /dev/null',
      flood: "yes flood",
      loop: "while :; do :; done",
      leftover: "sleep 612.5 & echo $! > notes.txt",
      secret: `env > notes.txt; echo $OPENAI_API_KEY $BENCH_SECRET`,
    };
    const rows = Object.keys(hostile).map((id) => ({
      id,
      task: "Create an empty file named notes.txt.",
      setup_commands: [],
      success_condition: "test -f notes.txt && test ! -s notes.txt",
      reference: "touch notes.txt",
    }));
    const dir = testdir({
      "exp.yaml": config(", output_bytes: 4096").replace("timeout: 5", "timeout: 3"),
      "data.jsonl": rows,
      "commands.jsonl": Object.entries(hostile).map(([id, cmd]) => ({ id, generated_command: cmd })),
    });
    const started = Date.now();
    const r = await runCliAsync(["execute", "exp.yaml", "--predictions", "commands.jsonl"], dir, {
      OPENAI_API_KEY: secret,
      BENCH_SECRET: secret,
    });
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(60_000);
    const executions = new Map(jsonl(join(trialOf(dir), "executions.jsonl")).map((e) => [e.id, e]));
    expect(executions.size).toBe(rows.length);
    for (const [id, e] of executions) {
      expect(e.status, id).toBe("ok");
      expect(e.passed, id).toBe(false);
      expect(e.failure_reason, id).toBeTruthy();
    }
    expect(executions.get("loop").failure_reason).toBe("command timed out");
    expect(
      executions.get("flood").steps.find((s: { name: string }) => s.name === "command").stdout.length,
    ).toBeLessThan(8192);
    expect(existsSync("/etc/benchline-owned")).toBe(false);
    expect(existsSync(join(homedir(), "benchline-owned"))).toBe(false);
    expect(readFileSync(canary, "utf8")).toBe("untouched");
    // The leftover background process did not survive its sandbox.
    const survivors = readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8").includes("612.5");
        } catch {
          return false;
        }
      });
    expect(survivors).toEqual([]);
    const everything = readdirSync(join(dir, "runs/shell"), { recursive: true })
      .map(String)
      .filter((f) => /\.(jsonl|json|md|csv|html)$/.test(f))
      .map((f) => readFileSync(join(dir, "runs/shell", f), "utf8"))
      .join("\n");
    expect(everything).not.toContain(secret);
  }, 120_000);
});
