import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { encode } from "gpt-tokenizer/encoding/o200k_base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliAsync, testdir } from "./helpers.js";

/**
 * A loopback OpenAI-compatible server with vLLM's `/tokenize` whose "tokenizer" counts words —
 * nothing like the 4-characters-a-token estimate, so which one fitted a prompt shows.
 */
interface Seen {
  chats: { role: string; content: string }[][];
  tokenize: number;
}
let server: http.Server;
let url = "";
const seen: Seen = { chats: [], tokenize: 0 };
const words = (messages: { content: string }[]) =>
  messages.reduce((n, m) => n + m.content.split(/\s+/).filter(Boolean).length, 0);

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const json = JSON.parse(body || "{}");
      res.setHeader("content-type", "application/json");
      if (req.url === "/tokenize") {
        seen.tokenize++;
        res.end(JSON.stringify({ count: words(json.messages), max_model_len: 1200 }));
      } else if (req.url === "/v1/chat/completions") {
        seen.chats.push(json.messages);
        res.end(
          JSON.stringify({
            choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
            usage: { prompt_tokens: 1, completion_tokens: 1 },
          }),
        );
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ error: "no route" }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

function predictions(dir: string, name: string) {
  const exp = join(dir, "runs", name);
  const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
  return new Map(
    readFileSync(join(exp, trial!, "predictions.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .map((p) => [p.id, p]),
  );
}

describe("prompt length budgeting with the model's own tokenizer (issue 9)", () => {
  it("vLLM: the server's /tokenize decides; a prompt the estimate would cut is kept, one it would keep is cut to fit", async () => {
    const long = Array.from({ length: 300 }, (_, i) => `w${String(i).padStart(18, "x")}`).join(" "); // 6,000 chars, 300 words
    const many = Array.from({ length: 2000 }, () => "a").join(" "); // 3,999 chars, 2,000 words
    const dir = testdir({
      "exp.yaml": [
        "name: tok",
        "task: qa",
        "dataset: data.jsonl",
        `models: [{id: v, provider: vllm, model: tiny, base_url: "${url}/v1", context_length: 1200, max_tokens: 100}]`,
        'prompts: {plain: {user: "{{question}}"}}',
        "concurrency: 1",
        "",
      ].join("\n"),
      "data.jsonl": [
        { id: "long", question: long, answer: "x" },
        { id: "many", question: many, answer: "x" },
      ],
    });
    seen.chats = [];
    const r = await runCliAsync(["run", "exp.yaml", "--no-cache"], dir);
    expect(r.code, r.stderr).not.toBe(2);
    const preds = predictions(dir, "tok");
    // 300 words fit 1,100 tokens: sent whole (the estimate, 6,000/4 = 1,500 tokens, would cut it).
    expect(preds.get("long")?.truncated).toBeUndefined();
    expect(seen.chats.some((m) => m[0]?.content === long)).toBe(true);
    // 2,000 words do not (the estimate, 1,000 tokens, would send it whole): cut until it fits.
    const cut = preds.get("many")?.truncated;
    expect(cut).toMatchObject({
      policy: "middle",
      tokenizer: "server",
      original_tokens: 2000,
      token_limit: 1100,
    });
    expect(cut.kept_tokens).toBeLessThanOrEqual(1100);
    expect(cut.kept_tokens).toBeGreaterThan(900);
    const sent = seen.chats.find((m) => m[0]?.content !== long) as { content: string }[];
    expect(words(sent)).toBe(cut.kept_tokens);
    expect(seen.tokenize).toBeGreaterThanOrEqual(3);
  });

  it("OpenAI models: gpt-tokenizer's o200k_base counts (CJK text the estimate undercounts 3x is cut to fit)", async () => {
    let s = 7;
    const cjk = Array.from({ length: 3000 }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return String.fromCharCode(0x4e00 + (s % 0x5000));
    }).join("");
    const dir = testdir({
      "exp.yaml": [
        "name: bpe",
        "task: qa",
        "dataset: data.jsonl",
        `models: [{id: o, provider: openai, model: gpt-4o-mini, base_url: "${url}/v1", context_length: 2000, max_tokens: 100}]`,
        'prompts: {plain: {user: "{{question}}"}}',
        "",
      ].join("\n"),
      "data.jsonl": [{ id: "cjk", question: cjk, answer: "x" }],
    });
    seen.chats = [];
    const r = await runCliAsync(["run", "exp.yaml", "--no-cache"], dir, { OPENAI_API_KEY: "sk-test-x" });
    expect(r.code, r.stderr).not.toBe(2);
    const full = encode(cjk).length;
    expect(full).toBeGreaterThan(3000); // the estimate says 750
    const cut = predictions(dir, "bpe").get("cjk")?.truncated;
    expect(cut).toMatchObject({
      tokenizer: "o200k_base",
      original_tokens: full + 3 + 1 + 3,
      token_limit: 1900,
    });
    const sent = seen.chats[0] as { role: string; content: string }[];
    const sentTokens = sent.reduce((n, m) => n + 3 + encode(m.role).length + encode(m.content).length, 3);
    expect(sentTokens).toBe(cut.kept_tokens);
    expect(sentTokens).toBeLessThanOrEqual(1900);
    expect(sentTokens).toBeGreaterThan(1500);
  });

  it("a server without /tokenize: the estimate fits the prompt, as before", async () => {
    const many = Array.from({ length: 2000 }, () => "a").join(" ");
    const dir = testdir({
      "exp.yaml": [
        "name: est",
        "task: qa",
        "dataset: data.jsonl",
        `models: [{id: l, provider: llamacpp-server, base_url: "${url}/v1", context_length: 1200, max_tokens: 100}]`,
        'prompts: {plain: {user: "{{question}}"}}',
        "",
      ].join("\n"),
      "data.jsonl": [{ id: "many", question: many, answer: "x" }],
    });
    const r = await runCliAsync(["run", "exp.yaml", "--no-cache"], dir);
    expect(r.code, r.stderr).not.toBe(2);
    // llama.cpp's /apply-template is not served here: no count, the 4-characters estimate keeps it.
    expect(predictions(dir, "est").get("many")?.truncated).toBeUndefined();
  });
});
