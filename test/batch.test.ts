import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type BatchServer,
  type BatchServerOptions,
  startBatchServer,
} from "../src/providers/test-utils/batch-server.js";
import { qaRows, runCliAsync, spawnCli, testdir } from "./helpers.js";

const KEY = "sk-batch-canary-7c2d9e41";
const env = { BATCH_KEY: KEY };

/** Answers "What is i plus one?" with i + 1, except for ids listed as wrong. */
const rightAnswer = (body: Record<string, unknown>): string => {
  const messages = body.messages as { role: string; content: string }[];
  const match = /What is (\d+) plus one/.exec(messages.at(-1)!.content);
  return match ? String(Number(match[1]) + 1) : "?";
};

let servers: BatchServer[] = [];
async function server(options: BatchServerOptions = {}): Promise<BatchServer> {
  const s = await startBatchServer({ answer: rightAnswer, auth: `Bearer ${KEY}`, ...options });
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

const config = (url: string, batch = "{poll_interval: 0.05}", extra = "") => `
name: batched
task: qa
dataset: data.jsonl
models:
  - {id: mini, provider: openai, model: gpt-4o-mini, base_url: "${url}", api_key_env: BATCH_KEY, batch: ${batch}${extra}}
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
`;

function trialDir(dir: string): string {
  const exp = join(dir, "runs", "batched");
  const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
  return join(exp, trial!);
}
const jsonl = (path: string): Record<string, unknown>[] =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const predictions = (dir: string) => jsonl(join(trialDir(dir), "predictions.jsonl"));
const batches = (dir: string) =>
  (
    JSON.parse(readFileSync(join(trialDir(dir), "batches.json"), "utf8")) as {
      batches: { batch_id?: string; state: string; keys: string[] }[];
    }
  ).batches;

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? allFiles(path) : [path];
  });
}

describe("batch APIs (OpenAI-compatible Files + Batches)", () => {
  it("runs a trial through one batch: custom_ids per (trial, id, sample), answers scored, cost at the batch price, key only in the header", async () => {
    const s = await server({ scenario: () => ({ polls: 3 }) });
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(4) });
    const r = await runCliAsync(["run", "exp.yaml", "--samples", "2", "--log", "plain"], dir, env);
    expect(r.stderr + r.stdout).not.toContain("error:");
    expect(r.code).toBe(0);
    expect(s.stats.uploads).toBe(1);
    expect(s.stats.created).toBe(1);
    // One line per (id, sample), each custom_id naming the trial.
    const trialHash = trialDir(dir).slice(-8);
    const ids = s.stats.lines.map((l) => l.custom_id);
    expect(new Set(ids).size).toBe(8);
    expect(ids).toContain(`${trialHash}:q3#1`);
    expect(s.stats.lines[0]).toMatchObject({ method: "POST", url: "/v1/chat/completions" });
    expect((s.stats.lines[0]!.body as { model: string }).model).toBe("gpt-4o-mini");
    // Progress while waiting: statuses and counts.
    expect(r.stdout + r.stderr).toMatch(/batch batch_\d+: in_progress, 0\/8 done/);
    expect(r.stdout + r.stderr).toMatch(/batch batch_\d+: completed, 8\/8 done, 0 failed/);
    const rows = predictions(dir);
    expect(rows).toHaveLength(8);
    expect(rows.every((p) => p.status === "ok" && typeof p.batch_id === "string")).toBe(true);
    const q2 = rows.find((p) => p.id === "q2" && p.sample === 1)!;
    expect(q2.completion).toBe("3");
    // gpt-4o-mini lists at $0.15 / $0.60 per 1M tokens; the batch price is half.
    const usage = q2.usage as { prompt_tokens: number; completion_tokens: number };
    expect(q2.cost_usd).toBeCloseTo(
      ((usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.6) / 1e6) * 0.5,
      12,
    );
    const summary = JSON.parse(readFileSync(join(trialDir(dir), "summary.json"), "utf8"));
    expect(summary.mean_score).toBe(1);
    // The key went in the authorization header and nowhere on disk or in the log.
    expect(s.stats.authorizations.every((a) => a === `Bearer ${KEY}`)).toBe(true);
    for (const file of allFiles(join(dir, "runs"))) expect(readFileSync(file, "utf8")).not.toContain(KEY);
    expect(r.stdout + r.stderr).not.toContain(KEY);
    expect(batches(dir)).toEqual([expect.objectContaining({ state: "collected", status: "completed" })]);

    // A rerun finds everything done: nothing submitted, nothing written.
    const before = readFileSync(join(trialDir(dir), "predictions.jsonl"), "utf8");
    const again = await runCliAsync(["run", "exp.yaml", "--samples", "2"], dir, env);
    expect(again.code).toBe(0);
    expect(s.stats.created).toBe(1);
    expect(readFileSync(join(trialDir(dir), "predictions.jsonl"), "utf8")).toBe(before);
  });

  it("a prompt shortened to the model's context_length is sent shortened, and its row says so as a live row does", async () => {
    const s = await server();
    const long = { id: "long", question: `${"background ".repeat(800)}What is 1 plus one?`, answer: "2" };
    const dir = testdir({
      "exp.yaml": config(s.url, "{poll_interval: 0.05}", ", context_length: 600, max_tokens: 100"),
      "data.jsonl": [long, { id: "short", question: "What is 4 plus one?", answer: "5" }],
    });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, env);
    expect(r.stderr + r.stdout).not.toContain("error:");
    expect(r.code).toBe(0);
    const sent = s.stats.lines.find((l) => String(l.custom_id).endsWith(":long#0"))!;
    const content = (sent.body as { messages: { content: string }[] }).messages.at(-1)!.content;
    expect(content).toContain("…[truncated]…");
    expect(content).toMatch(/What is 1 plus one\?$/);
    const rows = predictions(dir);
    const row = rows.find((p) => p.id === "long")!;
    expect(row.completion).toBe("2");
    expect(row.truncated).toMatchObject({ policy: "middle", original_chars: 800 * 11 + 19 });
    expect((row.truncated as { kept_chars: number }).kept_chars).toBe(content.length);
    // The field order of a live row: `truncated` after the rest (here after batch_id).
    expect(Object.keys(row).at(-1)).toBe("truncated");
    expect(rows.find((p) => p.id === "short")!.truncated).toBeUndefined();
  });

  it("kill -9 while waiting, then rerun: the same batch is collected, never submitted twice", async () => {
    const s = await server({ scenario: () => ({ hold: true }) });
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(5) });
    const child = spawnCli(["run", "exp.yaml"], dir, env);
    const deadline = Date.now() + 60_000;
    // Wait until the batch exists and is being polled (its id is then in batches.json).
    while (s.stats.polls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(s.stats.created).toBe(1);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));
    expect(batches(dir)).toEqual([
      expect.objectContaining({ state: "submitted", batch_id: s.batches()[0]!.id }),
    ]);
    expect(existsSync(join(trialDir(dir), "summary.json"))).toBe(false);
    s.release();
    const r = await runCliAsync(["run", "exp.yaml"], dir, env);
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(s.stats.created).toBe(1);
    expect(s.stats.uploads).toBe(1);
    const rows = predictions(dir);
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((p) => p.batch_id))).toEqual(new Set([s.batches()[0]!.id]));
  });

  it("--no-wait submits and exits; a later run collects the same batches (written once)", async () => {
    const s = await server({ scenario: () => ({ polls: 2 }) });
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(3) });
    const first = await runCliAsync(["run", "exp.yaml", "--no-wait"], dir, env);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/1 batch\(es\) running at the provider.*run the same command again/);
    expect(s.stats.created).toBe(1);
    expect(readFileSync(join(trialDir(dir), "predictions.jsonl"), "utf8")).toBe("");
    const second = await runCliAsync(["run", "exp.yaml"], dir, env);
    expect(second.code).toBe(0);
    expect(s.stats.created).toBe(1);
    expect(predictions(dir)).toHaveLength(3);
    // Collected once: a third run downloads nothing.
    const downloads = s.stats.downloads;
    await runCliAsync(["run", "exp.yaml"], dir, env);
    expect(s.stats.downloads).toBe(downloads);
    expect(predictions(dir)).toHaveLength(3);
  });

  it("a crash after writing a batch's rows but before recording it collected writes no row twice", async () => {
    const s = await server();
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(3) });
    expect((await runCliAsync(["run", "exp.yaml"], dir, env)).code).toBe(0);
    const path = join(trialDir(dir), "batches.json");
    const before = readFileSync(join(trialDir(dir), "predictions.jsonl"), "utf8");
    // The state a kill -9 between the two writes leaves behind.
    writeFileSync(path, readFileSync(path, "utf8").replace('"state": "collected"', '"state": "submitted"'));
    const downloads = s.stats.downloads;
    expect((await runCliAsync(["run", "exp.yaml"], dir, env)).code).toBe(0);
    expect(s.stats.downloads).toBeGreaterThan(downloads); // read again ...
    expect(readFileSync(join(trialDir(dir), "predictions.jsonl"), "utf8")).toBe(before); // ... written once
    expect(batches(dir)[0]).toMatchObject({ state: "collected" });
    expect(s.stats.created).toBe(1);
  });

  it("an expired batch keeps what it answered and resubmits only the missing requests", async () => {
    const s = await server({ scenario: (i) => (i === 0 ? { expireAfter: 2 } : {}) });
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(5) });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, env);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/expired, 2\/5 done/);
    expect(s.stats.created).toBe(2);
    // The second file holds only the three unanswered requests.
    expect(s.stats.lines).toHaveLength(8);
    const secondIds = s.stats.lines.slice(5).map((l) => String(l.custom_id).split(":")[1]);
    expect(secondIds).toEqual(["q2#0", "q3#0", "q4#0"]);
    const rows = predictions(dir);
    expect(rows).toHaveLength(5);
    expect(rows.every((p) => p.status === "ok")).toBe(true);
    expect(batches(dir).map((b) => b.state)).toEqual(["collected", "collected"]);
  });

  it("failed lines become error rows with the provider's error; a rerun resubmits only those", async () => {
    const s = await server({
      scenario: (i) =>
        i === 0
          ? {
              fail: (id) =>
                id.endsWith(":q1#0") ? { status: 400, message: "max_tokens is too large" } : undefined,
            }
          : {},
    });
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(3) });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, env);
    expect(r.code).toBe(0);
    expect(s.stats.created).toBe(1);
    const failed = predictions(dir).find((p) => p.id === "q1")!;
    expect(failed).toMatchObject({
      status: "error",
      error: { code: "http_400", message: "max_tokens is too large" },
    });
    expect(r.stdout + r.stderr).toContain("1 failed");
    const again = await runCliAsync(["run", "exp.yaml"], dir, env);
    expect(again.code).toBe(0);
    expect(s.stats.created).toBe(2);
    expect(s.stats.lines.slice(3).map((l) => String(l.custom_id).split(":")[1])).toEqual(["q1#0"]);
    expect(
      predictions(dir)
        .filter((p) => p.id === "q1")
        .at(-1),
    ).toMatchObject({ status: "ok", completion: "2" });
  });

  it("splits the requests by the API's limits (requests and bytes per file)", async () => {
    const s = await server();
    const dir = testdir({
      "exp.yaml": config(
        s.url,
        "{poll_interval: 0.05, max_requests: 4, max_bytes: 600, discount: 0}",
        ", price: {input: 1000000, output: 0}",
      ),
      "data.jsonl": qaRows(10),
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir, env);
    expect(r.code).toBe(0);
    const recorded = batches(dir);
    expect(recorded.length).toBeGreaterThanOrEqual(3);
    expect(recorded.every((b) => b.keys.length <= 4)).toBe(true);
    expect(recorded.flatMap((b) => b.keys).sort()).toHaveLength(10);
    expect(s.stats.created).toBe(recorded.length);
    const rows = predictions(dir);
    expect(rows).toHaveLength(10);
    // discount: 0 — the model's own price, here $1 per prompt token.
    for (const p of rows) expect(p.cost_usd).toBe((p.usage as { prompt_tokens: number }).prompt_tokens);
  });

  it("a refused batch records every request as an error row with the provider's message", async () => {
    const s = await server({ scenario: () => ({ refuse: "model gpt-4o-mini does not support batch" }) });
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(2) });
    const r = await runCliAsync(["run", "exp.yaml"], dir, env);
    expect(r.code).toBe(3); // every row failed
    expect(predictions(dir).map((p) => p.error)).toEqual([
      { code: "batch_invalid_request", message: "model gpt-4o-mini does not support batch" },
      { code: "batch_invalid_request", message: "model gpt-4o-mini does not support batch" },
    ]);
  });

  it("batch and --batch are honoured or rejected: live-only options and providers without a batch API are errors", async () => {
    const s = await server();
    const dir = testdir({
      "exp.yaml": config(s.url, "true", ", rpm: 60"),
      "gold.yaml": config(s.url).replace(/models:\n.*\n/, "models: [gold]\n"),
      "data.jsonl": qaRows(2),
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("exp.yaml: models[0].rpm: not used with batch");
    const gold = await runCliAsync(["run", "gold.yaml", "--batch"], dir, env);
    expect(gold.code).toBe(2);
    expect(gold.stderr).toContain('--batch: model "gold" (provider gold) has no batch API');
    const noWait = await runCliAsync(["run", "gold.yaml", "--no-wait"], dir, env);
    expect(noWait.code).toBe(2);
    expect(noWait.stderr).toContain("--no-wait: no model of this run uses batch");
    expect(s.stats.created).toBe(0);
  });

  it("--batch sends a model entry without `batch` through the Batch API", async () => {
    const s = await server();
    const dir = testdir({
      "exp.yaml": config(s.url, "{poll_interval: 0.05}").replace(", batch: {poll_interval: 0.05}", ""),
      "data.jsonl": qaRows(2),
    });
    // `batch` is not part of the trial's identity: the live trial's directory is the batch one's.
    const prompts = await runCliAsync(["run", "exp.yaml", "--phase", "prompts"], dir, env);
    expect(prompts.code).toBe(0);
    const liveTrial = trialDir(dir);
    const r = await runCliAsync(["run", "exp.yaml", "--batch"], dir, env);
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(s.stats.created).toBe(1);
    expect(trialDir(dir)).toBe(liveTrial);
    expect(readdirSync(join(dir, "runs", "batched")).filter((d) => d.includes("__"))).toHaveLength(1);
    expect(predictions(dir)).toHaveLength(2);
  }, 60_000);
});

describe("openai-batch files for offline GPU boxes (export → answer elsewhere → import)", () => {
  // Stands in for `vllm run-batch`: reads a request file, writes Batch API output lines.
  const answerScript = `
const fs = require("node:fs");
const [input, output] = process.argv.slice(2);
const out = [];
fs.readFileSync(input, "utf8").trim().split("\\n").forEach((raw, i) => {
  const line = JSON.parse(raw);
  const question = line.body.messages.at(-1).content;
  const n = Number(/What is (\\d+) plus one/.exec(question)[1]);
  const sample = Number(line.custom_id.split("#").pop());
  // Sample 1 of q1 fails first and succeeds on a second try; sample 0 of q0 is wrong.
  if (line.custom_id === "q1#1")
    out.push({ id: "r" + i, custom_id: line.custom_id, response: { status_code: 500, body: { error: { message: "oom" } } }, error: null });
  const content = line.custom_id === "q0#0" ? "no idea" : String(n + 1);
  out.push({ id: "r" + i, custom_id: line.custom_id, response: { status_code: 200, body: {
    model: line.body.model, choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: { prompt_tokens: 5, completion_tokens: 1 } } }, error: null });
});
fs.writeFileSync(output, out.reverse().map((l) => JSON.stringify(l) + "\\n").join(""));
`;

  it("round trip: export --format openai-batch, answer in the batch output format, import", async () => {
    const dir = testdir({
      "exp.yaml": `
name: offline
task: qa
dataset: data.jsonl
samples: 2
models:
  - {id: qwen, provider: vllm, model: "Qwen/Qwen2.5-7B@http://gpu:8000", temperature: 0.7, max_tokens: 16, seed: 3}
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
`,
      "data.jsonl": qaRows(3),
      "answer.cjs": answerScript,
    });
    const exported = await runCliAsync(
      ["export", "exp.yaml", "--format", "openai-batch", "-o", "requests.jsonl"],
      dir,
    );
    expect(exported.stderr).toBe("");
    expect(exported.stdout).toContain("wrote 6 batch request(s) to requests.jsonl");
    const requests = jsonl(join(dir, "requests.jsonl"));
    expect(requests.map((r) => r.custom_id)).toEqual(["q0#0", "q0#1", "q1#0", "q1#1", "q2#0", "q2#1"]);
    expect(requests[1]).toEqual({
      custom_id: "q0#1",
      method: "POST",
      url: "/v1/chat/completions",
      body: {
        model: "Qwen/Qwen2.5-7B",
        messages: [{ role: "user", content: "What is 0 plus one?" }],
        temperature: 0.7,
        max_tokens: 16,
        seed: 4, // sample i is seeded seed + i, as a live run sends it
      },
    });
    const { spawnSync } = await import("node:child_process");
    const answered = spawnSync(process.execPath, ["answer.cjs", "requests.jsonl", "output.jsonl"], {
      cwd: dir,
    });
    expect(answered.status).toBe(0);
    const r = await runCliAsync(
      ["import", "exp.yaml", "--responses", "output.jsonl", "--name", "qwen-offline"],
      dir,
    );
    expect(r.code).toBe(0);
    const exp = join(dir, "runs", "offline");
    const [trial] = readdirSync(exp).filter((d) => d.startsWith("qwen-offline__"));
    const rows = jsonl(join(exp, trial!, "predictions.jsonl"));
    const get = (id: string, sample: number) => rows.find((p) => p.id === id && p.sample === sample)!;
    // Lines in any order land at the sample their custom_id names.
    expect(get("q0", 0)).toMatchObject({ status: "ok", completion: "no idea" });
    expect(get("q0", 1)).toMatchObject({ status: "ok", completion: "1" });
    expect(get("q2", 1)).toMatchObject({ status: "ok", completion: "3" });
    // A failed line is no completion: the retried line answers that sample.
    expect(get("q1", 1)).toMatchObject({ status: "ok", completion: "2" });
    expect(rows).toHaveLength(6);
    const scores = jsonl(join(exp, trial!, "scores.jsonl"));
    expect(scores.filter((s) => s.passed === true)).toHaveLength(5);
  });

  it("--model and --samples need --format openai-batch", async () => {
    const dir = testdir({ "exp.yaml": config("http://127.0.0.1:1/v1"), "data.jsonl": qaRows(1) });
    const r = await runCliAsync(["export", "exp.yaml", "-o", "p.jsonl", "--samples", "2"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--model and --samples apply to --format openai-batch only");
  });
});

describe("batch APIs: lost answers, slow APIs, Ctrl-C", () => {
  it("a rejected key stops the run with one line naming the URL, and the key appears nowhere", async () => {
    const s = await server();
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(2) });
    const wrong = "sk-wrong-key-0b7f3a";
    const r = await runCliAsync(["run", "exp.yaml"], dir, { BATCH_KEY: wrong });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`HTTP 401 from POST ${s.url}/files`);
    expect(r.stdout + r.stderr).not.toContain(wrong);
    for (const file of allFiles(join(dir, "runs"))) expect(readFileSync(file, "utf8")).not.toContain(wrong);
    expect(s.stats.created).toBe(0);
    // With the right key a rerun submits once (the unfinished record is dropped, nothing was uploaded).
    const again = await runCliAsync(["run", "exp.yaml"], dir, env);
    expect(again.code).toBe(0);
    expect(s.stats.created).toBe(1);
    expect(batches(dir)).toHaveLength(1);
  });

  it("a create whose answer is lost is found by its nonce, not created again", async () => {
    const s = await server({ dropCreate: (i) => i === 0 });
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(3) });
    const r = await runCliAsync(["run", "exp.yaml"], dir, env);
    expect(r.code).toBe(0);
    expect(s.stats.created).toBe(1);
    expect(s.stats.lists).toBeGreaterThanOrEqual(1);
    expect(predictions(dir)).toHaveLength(3);
    expect(batches(dir)).toEqual([
      expect.objectContaining({ batch_id: s.batches()[0]!.id, state: "collected" }),
    ]);
  });

  it("slow polling: progress is reported while waiting and the run completes", async () => {
    const s = await server({ pollLatencyMs: 400, scenario: () => ({ polls: 4 }) });
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(3) });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, env);
    expect(r.code).toBe(0);
    const progress = (r.stdout + r.stderr).split("\n").filter((l) => / batch batch_\d+: /.test(l));
    expect(progress.map((l) => /: (\w+),/.exec(l)![1])).toEqual(["validating", "in_progress", "completed"]);
    expect(progress.at(-1)).toMatch(/completed, 3\/3 done, 0 failed \(\d+\.\ds\)/);
    expect(predictions(dir)).toHaveLength(3);
  });

  it("Ctrl-C while waiting keeps the batch recorded; the rerun collects it without a second submission", async () => {
    const s = await server({ scenario: () => ({ hold: true }) });
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(3) });
    const child = spawnCli(["run", "exp.yaml"], dir, env);
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const deadline = Date.now() + 60_000;
    while (s.stats.polls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGINT");
    const code = await new Promise((r) => child.once("close", r));
    expect(code).toBe(130);
    expect(stderr).toContain("run the same command to resume");
    expect(batches(dir)).toEqual([expect.objectContaining({ state: "submitted" })]);
    s.release();
    const r = await runCliAsync(["run", "exp.yaml"], dir, env);
    expect(r.code).toBe(0);
    expect(s.stats.created).toBe(1);
    expect(predictions(dir)).toHaveLength(3);
  });
  it("a key variable holding several comma-separated keys: the batch uses the first, and no key reaches disk or the log", async () => {
    const second = "sk-batch-second-5e81aa0c";
    const s = await server({ scenario: () => ({ polls: 1 }) });
    const dir = testdir({ "exp.yaml": config(s.url), "data.jsonl": qaRows(3) });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, {
      BATCH_KEY: ` ${KEY}, ${second} `,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(s.stats.authorizations.length).toBeGreaterThan(0);
    expect(s.stats.authorizations.every((a) => a === `Bearer ${KEY}`)).toBe(true);
    for (const file of allFiles(join(dir, "runs"))) {
      const text = readFileSync(file, "utf8");
      expect(text).not.toContain(KEY);
      expect(text).not.toContain(second);
    }
    expect(r.stdout + r.stderr).not.toContain(second);
  });

  it("--queue with a batch model is refused before anything is written (the Batch API is driven from this machine)", async () => {
    const dir = testdir({ "exp.yaml": config("http://127.0.0.1:9/v1"), "data.jsonl": qaRows(2) });
    const r = await runCliAsync(["run", "exp.yaml", "--queue", "redis://127.0.0.1:9"], dir, env);
    expect(r.stderr).toMatch(/--queue: "mini" uses a Batch API/);
    expect(r.code).toBe(2);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });
});
