import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { C0, calcRows, T0 } from "./code-edit-calc.js";
import { makeRepo } from "./code-edit-repo.js";
import { runCliAsync, testdir } from "./helpers.js";

/**
 * A live loopback model (vLLM-style: chat completions and /tokenize counting words) that answers
 * the SWE-bench instance with its fix in a diff fence and anything else with prose.
 */
let server: http.Server;
let url = "";
let fix = "";
const prompts: string[] = [];
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const json = JSON.parse(body || "{}");
      const text = (json.messages as { content: string }[]).map((m) => m.content).join("\n");
      res.setHeader("content-type", "application/json");
      if (req.url === "/tokenize") return res.end(JSON.stringify({ count: words(text) }));
      prompts.push(text);
      const content = text.includes("add and sub are wrong")
        ? `Fix:\n\`\`\`diff\n${fix}\`\`\`\n`
        : "No idea.";
      res.end(
        JSON.stringify({
          choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
          usage: { prompt_tokens: words(text), completion_tokens: words(content) },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const rowsOf = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("code-edit with a live loopback model through the CLI", () => {
  it("variants built, a live model answered, patches executed and graded, similarity scored; a prompt past the context loses its last file by the server's count", async () => {
    const repo = makeRepo({
      "calc.py": C0,
      "tests/__init__.py": "",
      "tests/test_calc.py": T0,
      "helpers.py": `def add_all(xs):\n    return sum(xs)  # add sub helpers ${"pad ".repeat(40)}\n`,
    });
    const data = calcRows(repo.commit);
    fix = data[1]?.patch as string;
    const exp = (name: string, variants: string[], contextLength?: number) =>
      [
        `name: ${name}`,
        `task: {name: code-edit, repos: {demo/calc: ${repo.dir}}, variants: ${JSON.stringify(variants)}}`,
        "dataset: data.jsonl",
        `models: [{id: live, provider: vllm, model: tiny, base_url: "${url}/v1"${contextLength ? `, context_length: ${contextLength}, max_tokens: 10` : ""}}]`,
        "execution: {timeout: 60}",
        "",
      ].join("\n");
    const dir = testdir({ "data.jsonl": data, "full.yaml": exp("full", ["None_body_issue", "0.4_bm25_1"]) });

    const r = await runCliAsync(["run", "full.yaml", "--no-cache"], dir);
    expect(r.code, r.stderr).toBe(0);
    const runDir = join(dir, "runs/full");
    const trial = readdirSync(runDir).find((d) => d.startsWith("live__none_body_issue__")) as string;
    expect(trial).toBeDefined();
    const executions = new Map(rowsOf(join(runDir, trial, "executions.jsonl")).map((e) => [e.id, e]));
    expect(executions.get("demo__calc-2")).toMatchObject({
      passed: true,
      applied: true,
      artifact: { method: "diff_fence" },
    });
    expect(executions.get("demo__calc-pull-1")).toMatchObject({ passed: false, applied: false });
    const summary = JSON.parse(readFileSync(join(runDir, trial, "summary.json"), "utf8"));
    // Default scorers: resolved, applied and EditBench's similarity metrics.
    for (const scorer of ["exec", "applied", "edit_distance", "token_jaccard", "tfidf_cosine", "file_hit"])
      expect(JSON.stringify(summary), scorer).toContain(`"${scorer}"`);
    const scores = rowsOf(join(runDir, trial, "scores.jsonl"));
    expect(scores.find((s) => s.id === "demo__calc-2" && s.scorer === "edit_distance").value).toBe(0);
    expect(readFileSync(join(runDir, "report.md"), "utf8")).toMatch(/live/);

    // The same prompt with a context one token short: its last file block goes.
    const bm25Trial = readdirSync(runDir).find((d) => d.startsWith("live__0.4_bm25_1__")) as string;
    const prompt = rowsOf(join(runDir, bm25Trial, "prompts.jsonl")).find((p) => p.id === "demo__calc-pull-1")
      .prompt as string;
    const code = /<code>([\s\S]*?)<\/code>/.exec(prompt)?.[1] ?? "";
    const blocks = [...code.matchAll(/\[start of ([^\]]+)\]/g)].map((m) => m[1] as string);
    expect(blocks.length).toBeGreaterThanOrEqual(2); // calc.py and the retrieved file
    const last = blocks.at(-1) as string;
    const needed = words(prompt);
    writeFileSync(join(dir, "short.yaml"), exp("short", ["0.4_bm25_1"], needed - 1 + 10));
    prompts.length = 0;
    const s = await runCliAsync(["run", "short.yaml", "--no-cache"], dir);
    expect(s.code, s.stderr).not.toBe(2);
    const shortDir = join(dir, "runs/short");
    const shortTrial = readdirSync(shortDir).find((d) => d.includes("__")) as string;
    const pred = rowsOf(join(shortDir, shortTrial, "predictions.jsonl")).find(
      (p) => p.id === "demo__calc-pull-1",
    );
    expect(pred.truncated).toMatchObject({
      policy: "drop-last-file",
      tokenizer: "server",
      original_tokens: needed,
      token_limit: needed - 1,
    });
    const sent = prompts.find(
      (p) => p.includes(`[start of ${blocks[0]}]`) && !p.includes(`[start of ${last}]`),
    );
    expect(sent).toBeDefined();
    expect(words(sent as string)).toBe(pred.truncated.kept_tokens);
  }, 240_000);
});
