import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type OpenAIServer, startOpenAIServer } from "../src/providers/test-utils/openai-server.js";
import { type CliResult, qaRows, runCli, runCliAsync, spawnCli, testdir } from "./helpers.js";

/** Issue 16: two processes writing one trial (a second terminal, a cron retry) must not pay twice. */

let server: OpenAIServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const env = { BENCH_KEY: "sk-test-lock" };
const config = (url: string, concurrency = 2) => `
name: live
task: qa
dataset: data.jsonl
models:
  - {id: local, provider: vllm, model: tiny, base_url: "${url}", api_key_env: BENCH_KEY}
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
concurrency: ${concurrency}
`;

function setup(items: number, latencyMs: number, concurrency = 2) {
  return startOpenAIServer({ latencyMs }).then((s) => {
    server = s;
    return testdir({ "exp.yaml": config(s.url, concurrency), "data.jsonl": qaRows(items) });
  });
}

const expDir = (dir: string): string => join(dir, "runs", "live");
const lockFiles = (dir: string): string[] => {
  const locks = join(expDir(dir), ".locks");
  return existsSync(locks) ? readdirSync(locks).filter((n) => n.endsWith(".json")) : [];
};

function rows(dir: string, file: string): Record<string, unknown>[] {
  const exp = expDir(dir);
  if (!existsSync(exp)) return [];
  return readdirSync(exp)
    .filter((d) => d.includes("__"))
    .flatMap((t) => {
      const path = join(exp, t, file);
      if (!existsSync(path)) return [];
      return readFileSync(path, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    });
}

/** Every file holds each key once, and every item is there. */
function expectEachKeyOnce(dir: string, items: number): void {
  const preds = rows(dir, "predictions.jsonl");
  expect(preds).toHaveLength(items);
  expect(new Set(preds.map((r) => `${r.id}/${r.sample}`)).size).toBe(items);
  expect(preds.every((r) => r.status === "ok")).toBe(true);
  const prompts = rows(dir, "prompts.jsonl");
  expect(new Set(prompts.map((r) => r.id)).size).toBe(prompts.length);
  expect(prompts).toHaveLength(items);
  const scores = rows(dir, "scores.jsonl");
  expect(new Set(scores.map((r) => `${r.id}/${r.sample}/${r.scorer}`)).size).toBe(scores.length);
  expect(scores).toHaveLength(items);
}

async function waitFor(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts the CLI; `stderr()` is what it printed so far, `done` its result. */
function start(args: string[], dir: string) {
  const child = spawnCli(args, dir, env);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, stderr: () => stderr };
}

const run = ["run", "exp.yaml", "--no-cache", "--log", "plain"];

/** A lock file as another host would leave it (shared filesystem). */
function plantForeignLock(dir: string, renewedAgoMs: number, trials: string[] | "*" = "*"): string {
  const locks = join(expDir(dir), ".locks");
  mkdirSync(locks, { recursive: true });
  const at = new Date(Date.now() - renewedAgoMs).toISOString();
  const path = join(locks, "other-host-777-abc.json");
  writeFileSync(
    path,
    JSON.stringify({
      token: "other-host-777-abc",
      pid: 777,
      host: "other-host",
      started_at: at,
      renewed_at: at,
      lease_ms: 60_000,
      command: "benchline run exp.yaml",
      trials,
      shard: null,
    }),
  );
  return path;
}

describe("one writer per trial (issue 16)", () => {
  it("defect 16: a second run of the same experiment exits 4 naming the owner; every request is made once", async () => {
    // Slow answers keep the first run busy until the second has been turned away.
    const dir = await setup(40, 1000);
    const first = start(run, dir);
    await waitFor("the first run's lock", () => lockFiles(dir).length > 0);
    const second = await runCliAsync(run, dir, env);
    server!.setLatency(0);
    expect(second.code).toBe(4);
    expect(second.stderr.trim().split("\n")).toHaveLength(1);
    expect(second.stderr).toMatch(
      new RegExp(
        `^benchline: runs/live: in use by pid ${first.child.pid} on ${hostname()} since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(benchline run exp\\.yaml`,
      ),
    );
    expect(second.stderr).toContain("--wait");
    expect((await first.done).code).toBe(0);
    expect(server!.stats.requests).toBe(40);
    expectEachKeyOnce(dir, 40);
    expect(existsSync(join(expDir(dir), ".locks"))).toBe(false);
  });

  it("defect 16: --wait waits for the owner with a progress message, then has nothing left to do", async () => {
    const dir = await setup(40, 1000);
    const first = start(run, dir);
    await waitFor("the first run's lock", () => lockFiles(dir).length > 0);
    const second = start([...run, "--wait"], dir);
    await waitFor("the waiting message", () => second.stderr().includes("waiting for"));
    expect(second.stderr()).toMatch(
      new RegExp(`waiting for runs/live: in use by pid ${first.child.pid} on `),
    );
    server!.setLatency(0);
    expect((await first.done).code).toBe(0);
    const waited = await second.done;
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).not.toContain("row(s) written"); // nothing left to do
    expect(server!.stats.requests).toBe(40);
    expectEachKeyOnce(dir, 40);
  });

  it("defect 16: two runs started at the same moment: each request is made once, the loser exits 4", async () => {
    const dir = await setup(30, 300);
    const [a, b] = await Promise.all([runCliAsync(run, dir, env), runCliAsync(run, dir, env)]);
    const codes = [a.code, b.code].sort();
    // Usually one is turned away; on a slow machine the second may start after the first ended.
    expect([
      [0, 4],
      [0, 0],
    ]).toContainEqual(codes);
    expect(server!.stats.requests).toBe(30);
    expectEachKeyOnce(dir, 30);
  });

  it("runs of different trials of one experiment run side by side and both stay in experiment.json", async () => {
    const dir = await setup(20, 300);
    writeFileSync(
      join(dir, "exp.yaml"),
      config(server!.url).replace(
        "models:\n",
        `models:\n  - {id: local2, provider: vllm, model: tiny2, base_url: "${server!.url}", api_key_env: BENCH_KEY}\n`,
      ),
    );
    const [a, b] = await Promise.all([
      runCliAsync([...run, "-m", "local"], dir, env),
      runCliAsync([...run, "-m", "local2"], dir, env),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(server!.stats.requests).toBe(40);
    const manifest = JSON.parse(readFileSync(join(expDir(dir), "experiment.json"), "utf8"));
    expect(manifest.trials.map((t: { model: string }) => t.model).sort()).toEqual(["local", "local2"]);
  });

  it("Ctrl-C releases the lock: the next run starts at once and resumes", async () => {
    const dir = await setup(30, 1000);
    const first = start(run, dir);
    await waitFor("some predictions", () => rows(dir, "predictions.jsonl").length >= 2);
    first.child.kill("SIGINT");
    server!.setLatency(0);
    expect((await first.done).code).toBe(130);
    expect(lockFiles(dir)).toHaveLength(0);
    const rerun = await runCliAsync(run, dir, env);
    expect(rerun.code, rerun.stderr).toBe(0);
    expectEachKeyOnce(dir, 30);
  });

  it("a killed owner (kill -9) leaves its lock; a rerun takes it over and finishes without redoing rows", async () => {
    const dir = await setup(40, 200);
    const first = start(run, dir);
    await waitFor("some predictions", () => rows(dir, "predictions.jsonl").length >= 4);
    first.child.kill("SIGKILL");
    await first.done;
    expect(lockFiles(dir)).toHaveLength(1); // no chance to clean up
    const rerun = await runCliAsync(run, dir, env);
    expect(rerun.code).toBe(0);
    expectEachKeyOnce(dir, 40);
    // At most the requests in flight at the kill (concurrency 2) were paid twice.
    expect(server!.stats.requests).toBeLessThanOrEqual(42);
    expect(lockFiles(dir)).toHaveLength(0);
  });

  it("three shards run side by side into one directory; a full run meanwhile is refused", async () => {
    const dir = await setup(60, 1000);
    const shards = [1, 2, 3].map((part) => start([...run, "--parts", "3", "--part", String(part)], dir));
    await waitFor("three shard locks", () => lockFiles(dir).length === 3);
    const full = await runCliAsync(run, dir, env);
    server!.setLatency(50);
    expect(full.code).toBe(4);
    expect(full.stderr).toMatch(/in use by pid \d+ on .*, shard \d\/3\)/);
    const results = await Promise.all(shards.map((s) => s.done));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(server!.stats.requests).toBe(60);
    expectEachKeyOnce(dir, 60);
    const manifest = JSON.parse(readFileSync(join(expDir(dir), "experiment.json"), "utf8"));
    expect(manifest.trials).toHaveLength(1);
  });

  it("report reads a trial while a run holds it", async () => {
    const dir = await setup(40, 1000);
    const first = start(run, dir);
    await waitFor("a few predictions", () => rows(dir, "predictions.jsonl").length >= 2);
    const report = await runCliAsync(["report", "runs/live"], dir);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toMatch(
      /^local__plain__\w+: exact (–|\d+\.\d%), 0 error\(s\)(, \d+\/\d+ prediction\(s\) scored)?$/m,
    );
    expect(report.stdout).toContain("report: runs/live/report.md");
    expect(lockFiles(dir)).toHaveLength(1); // report took no lock and left the run's alone
    server!.setLatency(0);
    expect((await first.done).code).toBe(0);
    expectEachKeyOnce(dir, 40);
  });

  it("another host's lock: respected while its lease is fresh, taken over once it has expired", async () => {
    const dir = await setup(10, 0);
    const planted = plantForeignLock(dir, 1000);
    const refused = await runCliAsync(run, dir, env);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(
      /runs\/live: in use by pid 777 on other-host since .* \(benchline run exp\.yaml\).*expires 60s after its last renewal/,
    );
    expect(server!.stats.requests).toBe(0);
    expect(readdirSync(expDir(dir)).filter((d) => d.includes("__"))).toHaveLength(0);

    plantForeignLock(dir, 3600_000); // its owner stopped renewing an hour ago
    const taken = await runCliAsync(run, dir, env);
    expect(taken.code, taken.stderr).toBe(0);
    expect(existsSync(planted)).toBe(false);
    expectEachKeyOnce(dir, 10);
  });

  it("import, execute and merge refuse a trial another process holds (exit 4)", () => {
    const answers = qaRows(5).map((r) => ({ id: r.id, completion: r.answer }));
    const dir = testdir({
      "exp.yaml": config("http://127.0.0.1:9/v1"),
      "data.jsonl": qaRows(5),
      "responses.jsonl": answers,
    });
    plantForeignLock(dir, 0);
    const imported = runCli(["import", "exp.yaml", "--responses", "responses.jsonl"], dir);
    expect(imported.code).toBe(4);
    expect(imported.stderr).toMatch(/^benchline: runs\/live: in use by pid 777 on other-host/);
    const executed = runCli(["execute", "exp.yaml", "--predictions", "responses.jsonl"], dir);
    expect(executed.code).toBe(4);
    expect(readdirSync(expDir(dir)).filter((d) => d.includes("__"))).toHaveLength(0);

    // merge holds every trial of its destination.
    const src = runCli(["import", "exp.yaml", "--responses", "responses.jsonl", "--name", "other"], dir, {
      BENCH_KEY: "x",
    });
    expect(src.code).toBe(4); // same experiment directory: still locked
    const ok = runCli(
      ["import", "exp.yaml", "--responses", "responses.jsonl", "--out", "elsewhere", "--name", "m"],
      dir,
    );
    expect(ok.code, ok.stderr).toBe(0);
    const merged = runCli(["merge", "elsewhere/live", "--into", "runs/live"], dir);
    expect(merged.code).toBe(4);
    expect(merged.stderr).toMatch(/^benchline: runs\/live: in use by pid 777 on other-host/);
    expect(readdirSync(expDir(dir)).filter((d) => d.includes("__"))).toHaveLength(0);
  });

  it("merge --wait waits for the destination's holder, then merges", async () => {
    const answers = qaRows(5).map((r) => ({ id: r.id, completion: r.answer }));
    const dir = testdir({
      "exp.yaml": config("http://127.0.0.1:9/v1"),
      "data.jsonl": qaRows(5),
      "responses.jsonl": answers,
    });
    const src = await runCliAsync(
      ["import", "exp.yaml", "--responses", "responses.jsonl", "--out", "src"],
      dir,
    );
    expect(src.code, src.stderr).toBe(0);
    const planted = plantForeignLock(dir, 0);
    const merge = start(["merge", "src/live", "--into", "runs/live", "--wait"], dir);
    await waitFor("the waiting message", () => merge.stderr().includes("waiting for"));
    expect(merge.stderr()).toMatch(/waiting for runs\/live: in use by pid 777 on other-host/);
    expect(existsSync(join(expDir(dir), "experiment.json"))).toBe(false);
    rmSync(planted); // the holder finishes
    const merged = await merge.done;
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout).toMatch(/appended 5 prompts, 5 predictions/);
    expect(lockFiles(dir)).toHaveLength(0);
  });
});
