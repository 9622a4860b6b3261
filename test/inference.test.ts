import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAIServer, startOpenAIServer } from "../src/providers/test-utils/openai-server.js";
import { qaRows, runCliAsync, spawnCli, testdir } from "./helpers.js";

let server: OpenAIServer;
beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(async () => {
  await server.close();
});

const config = (model: string, extra = "") => `
name: live
task: qa
dataset: data.jsonl
models:
  - ${model}
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
${extra.includes("concurrency:") ? "" : "concurrency: 8\n"}${extra}`;

const model = (extra = "") =>
  `{id: local, provider: vllm, model: tiny, base_url: "${server.url}", api_key_env: BENCH_KEY, max_attempts: 3, timeout: 1${extra}}`;

function predictions(dir: string, name = "live", out = "runs") {
  const exp = join(dir, out, name);
  const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
  return readFileSync(join(exp, trial!, "predictions.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? allFiles(path) : [path];
  });
}

const env = { BENCH_KEY: "sk-canary-5f1e0c9d" };

describe("live inference against a local OpenAI-compatible server", () => {
  it("survives 429s, 500s, resets, malformed JSON and hangs: every row ok or a recorded error, none lost or duplicated", async () => {
    server.setFaults(({ index }) =>
      index % 7 === 3
        ? "429"
        : index % 11 === 5
          ? "500"
          : index % 13 === 6
            ? "reset"
            : index % 17 === 8
              ? "malformed"
              : index === 20
                ? "hang"
                : undefined,
    );
    const dir = testdir({ "exp.yaml": config(model()), "data.jsonl": qaRows(60) });
    try {
      const first = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, env);
      expect(first.code).toBe(0);
      let rows = predictions(dir);
      const keys = rows.map((r) => `${r.id}/${r.sample}`);
      expect(new Set(keys).size).toBe(60);
      for (const r of rows) {
        if (r.status === "ok") expect(r.completion).toMatch(/^chat 0 seed=- \| What is \d+ plus one\?$/);
        else expect(r.error.code).toMatch(/^(http_\d+|timeout|connection|bad_response)$/);
      }
      expect(rows.filter((r) => r.attempts > 1).length).toBeGreaterThan(0); // retries happened
      server.setFaults(undefined);
      expect((await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, env)).code).toBe(0);
      rows = predictions(dir);
      const last = new Map(rows.map((r) => [`${r.id}/${r.sample}`, r]));
      expect(last.size).toBe(60);
      expect([...last.values()].every((r) => r.status === "ok")).toBe(true);
      // An ok row is never redone: each key has at most one ok row.
      expect(rows.filter((r) => r.status === "ok").length).toBe(60);
      // The key reached the server and nothing we wrote.
      expect(server.stats.keys.get(env.BENCH_KEY)).toBeGreaterThan(0);
      for (const file of allFiles(join(dir, "runs")))
        expect(readFileSync(file, "utf8")).not.toContain(env.BENCH_KEY);
      expect(first.stderr + first.stdout).not.toContain(env.BENCH_KEY);
    } finally {
      server.setFaults(undefined);
    }
  });

  it("caches responses per sample on disk: a second experiment is served from the cache; --no-cache asks again", async () => {
    const dir = testdir({ "exp.yaml": config(model(), "samples: 2"), "data.jsonl": qaRows(6) });
    expect((await runCliAsync(["run", "exp.yaml"], dir, env)).code).toBe(0);
    const first = predictions(dir);
    expect(first.every((r) => r.cached === false)).toBe(true);
    // Different samples got different answers (the server numbers its choices).
    const q0 = first.filter((r) => r.id === "q0").sort((a, b) => a.sample - b.sample);
    expect(q0.map((r) => r.completion.split(" |")[0])).toEqual(["chat 0 seed=-", "chat 1 seed=-"]);
    const exp = join(dir, "runs/live");
    const trial = readdirSync(exp).find((d) => d.includes("__"))!;
    const summary = JSON.parse(readFileSync(join(exp, trial, "summary.json"), "utf8"));
    expect(summary.usage.completion_tokens).toBeGreaterThan(0);
    expect(summary.usage.tokens_per_s).toBeGreaterThan(0);

    const before = server.stats.requests;
    expect((await runCliAsync(["run", "exp.yaml", "--name", "again"], dir, env)).code).toBe(0);
    expect(server.stats.requests).toBe(before);
    const cached = predictions(dir, "again");
    expect(cached.every((r) => r.cached === true)).toBe(true);
    const bySample = new Map(cached.map((r) => [`${r.id}/${r.sample}`, r.completion]));
    for (const r of first) expect(bySample.get(`${r.id}/${r.sample}`)).toBe(r.completion);

    expect((await runCliAsync(["run", "exp.yaml", "--name", "fresh", "--no-cache"], dir, env)).code).toBe(0);
    expect(server.stats.requests).toBeGreaterThan(before);
    expect(predictions(dir, "fresh").every((r) => r.cached === false)).toBe(true);
  });

  it("--max-cost stops the run cleanly once predictions cost that much", async () => {
    const dir = testdir({
      "exp.yaml": config(model(", price: {input: 100000, output: 100000}"), "concurrency: 1"),
      "data.jsonl": qaRows(40),
    });
    const r = await runCliAsync(
      ["run", "exp.yaml", "--max-cost", "20", "--no-cache", "--log", "plain"],
      dir,
      env,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("--max-cost reached");
    const rows = predictions(dir);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(40);
    const spent = rows.reduce((a, p) => a + p.cost_usd, 0);
    expect(spent).toBeGreaterThanOrEqual(20);
    expect(spent - rows.at(-1).cost_usd).toBeLessThan(20);
    // What was bought is still scored and reported.
    const exp = join(dir, "runs/live");
    const trial = readdirSync(exp).find((d) => d.includes("__"))!;
    const scores = readFileSync(join(exp, trial, "scores.jsonl"), "utf8")
      .trim()
      .split("\n");
    expect(scores).toHaveLength(rows.length);
    expect(JSON.parse(readFileSync(join(exp, trial, "summary.json"), "utf8")).predictions.missing).toBe(
      40 - rows.length,
    );
  });

  it("defect 8.3: --max-cost at concurrency 8 writes and counts every answer the server sent", async () => {
    // Every request is slow enough that all 8 are in flight when the first answer spends the budget.
    server.setLatency(300);
    try {
      const dir = testdir({
        "exp.yaml": config(model(", price: {input: 100000, output: 100000}"), "concurrency: 8"),
        "data.jsonl": qaRows(40),
      });
      const answeredBefore = server.stats.ok;
      const r = await runCliAsync(
        ["run", "exp.yaml", "--max-cost", "0.5", "--no-cache", "--log", "plain"],
        dir,
        env,
      );
      const answered = server.stats.ok - answeredBefore;
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("--max-cost reached");
      const rows = predictions(dir);
      // Requests in flight when the budget ran out were answered, and none of them was dropped.
      expect(answered).toBeGreaterThan(1);
      expect(answered).toBeLessThan(40);
      expect(rows).toHaveLength(answered);
      expect(rows.every((p) => p.status === "ok")).toBe(true);
      const spent = rows.reduce((a, p) => a + p.cost_usd, 0);
      const exp = join(dir, "runs/live");
      const trial = readdirSync(exp).find((d) => d.includes("__"))!;
      const summary = JSON.parse(readFileSync(join(exp, trial, "summary.json"), "utf8"));
      expect(summary.predictions.ok).toBe(answered);
      expect(summary.usage.cost_usd).toBeCloseTo(spent, 6);
      // No new request was sent after the stop: at most the 8 in flight at that moment.
      expect(answered).toBeLessThanOrEqual(8);

      // The model allows 2 at once, so 6 requests wait in its queue: those are never sent.
      const queued = testdir({
        "exp.yaml": config(
          model(", concurrency: 2, price: {input: 100000, output: 100000}"),
          "concurrency: 8",
        ),
        "data.jsonl": qaRows(40),
      });
      const before = server.stats.requests;
      const q = await runCliAsync(
        ["run", "exp.yaml", "--max-cost", "0.5", "--no-cache", "--log", "plain"],
        queued,
        env,
      );
      expect(q.code).toBe(0);
      // At most the 2 in flight, plus the one that took the slot freed by the answer that reached
      // the cap (it is sent before that answer's cost is counted); without the stop all 8 go.
      expect(server.stats.requests - before).toBeLessThanOrEqual(3);
      expect(predictions(queued)).toHaveLength(server.stats.requests - before);
    } finally {
      server.setLatency(0);
    }
  });

  it("--timeout overrides every model's timeout", async () => {
    server.setLatency(1500);
    try {
      const dir = testdir({
        "exp.yaml": config(
          model().replace("timeout: 1", "timeout: 60, max_attempts: 1").replace("max_attempts: 3, ", ""),
        ),
        "data.jsonl": qaRows(2),
      });
      const started = Date.now();
      // Every row failed (timed out): exit 3.
      expect((await runCliAsync(["run", "exp.yaml", "--timeout", "0.3", "--no-cache"], dir, env)).code).toBe(
        3,
      );
      expect(Date.now() - started).toBeLessThan(8000);
      const rows = predictions(dir);
      expect(rows.map((r) => r.error?.code)).toEqual(["timeout", "timeout"]);
    } finally {
      server.setLatency(0);
    }
  });

  it("shortens prompts beyond the model's context and records it", async () => {
    const long = [{ id: "long", question: `${"background ".repeat(800)}What is 1 plus one?`, answer: "2" }];
    const dir = testdir({
      "exp.yaml": config(model(", context_length: 600, max_tokens: 100")),
      "data.jsonl": long,
    });
    expect((await runCliAsync(["run", "exp.yaml", "--no-cache"], dir, env)).code).toBe(0);
    const [row] = predictions(dir);
    expect(row.truncated).toMatchObject({ policy: "middle", original_chars: 800 * 11 + 19 });
    expect(row.truncated.kept_chars).toBeLessThanOrEqual(2000);
    // What the server was sent: the middle of the long question cut, its end kept.
    const sent = server.stats.bodies.at(-1) as { messages: { content: string }[] };
    const content = sent.messages.at(-1)!.content;
    expect(content).toContain("…[truncated]…");
    expect(content).toMatch(/What is 1 plus one\?$/);
    expect(content.length).toBe(row.truncated.kept_chars);
  });

  it("Ctrl-C aborts in-flight requests, keeps finished rows, and the same command resumes", async () => {
    server.setLatency(300);
    const dir = testdir({
      "exp.yaml": config(model().replace("timeout: 1", "timeout: 30"), "concurrency: 4"),
      "data.jsonl": qaRows(40),
    });
    try {
      const child = spawnCli(["run", "exp.yaml", "--no-cache", "--log", "plain"], dir, env);
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      await new Promise((r) => setTimeout(r, 2500));
      const sent = Date.now();
      child.kill("SIGINT");
      expect(await exited).toBe(130);
      expect(Date.now() - sent).toBeLessThan(3000); // in-flight requests were aborted, not awaited
      expect(stderr).toContain("run the same command to resume");
      const partial = predictions(dir);
      expect(partial.length).toBeGreaterThan(0);
      expect(partial.length).toBeLessThan(40);
      expect(partial.every((r) => r.status === "ok")).toBe(true);
    } finally {
      server.setLatency(0);
    }
    expect((await runCliAsync(["run", "exp.yaml", "--no-cache"], dir, env)).code).toBe(0);
    const rows = predictions(dir);
    expect(rows).toHaveLength(40);
    expect(new Set(rows.map((r) => r.id)).size).toBe(40);
  });
});
