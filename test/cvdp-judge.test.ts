import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { records } from "./cvdp-fixtures.js";
import { runCli, runCliAsync, testdir } from "./helpers.js";

/**
 * cid 9/10 answers judged by a model named on the scorer (`judge:`), here a loopback
 * OpenAI-compatible server that scores 0.9 when the candidate equals the reference, else 0.3.
 */
let server: Server;
let url = "";
const bodies: { messages: { role: string; content: string }[] }[] = [];
const keys: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => {
      raw += c.toString();
    });
    req.on("end", () => {
      const body = JSON.parse(raw) as (typeof bodies)[number];
      bodies.push(body);
      keys.push(req.headers.authorization ?? "");
      const user = body.messages.find((m) => m.role === "user")?.content ?? "";
      const [, reference = "", candidate = ""] =
        /Reference Solution:\n```\n([\s\S]*?)\n```[\s\S]*Candidate Response:\n```\n([\s\S]*?)\n```/.exec(
          user,
        ) ?? [];
      const score = reference === candidate ? 0.9 : 0.3;
      const content = `\`\`\`json\n{"score": ${score}, "reasoning": "compared"}\n\`\`\``;
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          id: "x",
          object: "chat.completion",
          choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("cvdp LLM judge (cid 9, 10)", () => {
  it("a judge model on the scorer scores on CVDP's 0-1 scale with the 0.7 threshold; the reference passes", async () => {
    const reference = records.question.output.response;
    const dir = testdir({
      "exp.yaml": `name: judged\ntask: cvdp\ndataset: data.jsonl\nmodels: [gold]\nscorers:\n  - {name: cvdp, judge: {id: judge, provider: openai, model: judge-1, base_url: "${url}", api_key_env: JUDGE_KEY}}\n`,
      "data.jsonl": [records.question],
      "responses.jsonl": [
        { id: records.question.id, completion: JSON.stringify({ response: reference }) },
        { id: records.question.id, completion: JSON.stringify({ response: "Because it is faster." }) },
      ],
    });
    const r = await runCliAsync(
      ["import", "exp.yaml", "--responses", "responses.jsonl", "--samples", "2"],
      dir,
      {
        JUDGE_KEY: "sk-judge-key",
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const exp = join(dir, "runs", "judged");
    const trial = join(exp, readdirSync(exp).find((d) => d.includes("__")) as string);
    const scores = readFileSync(join(trial, "scores.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(scores.find((s) => s.sample === 0)).toMatchObject({
      value: 0.9,
      passed: true,
      detail: { llm_score: 0.9 },
    });
    expect(scores.find((s) => s.sample === 1)).toMatchObject({ value: 0.3, passed: false });
    // CVDP's judge prompt, with the problem, the reference and the candidate
    expect(bodies[0]?.messages[0]?.content).toContain(
      "You are an expert at evaluating the quality of responses",
    );
    expect(bodies[0]?.messages[1]?.content).toContain(records.question.input.prompt);
    expect(keys).toContain("Bearer sk-judge-key");
    expect(readFileSync(join(trial, "scores.jsonl"), "utf8")).not.toContain("sk-judge-key");
  });

  it("a judge entry that is not a model is a config error naming the field", () => {
    const dir = testdir({
      "exp.yaml":
        "name: j\ntask: cvdp\ndataset: data.jsonl\nmodels: [gold]\nscorers:\n  - {name: cvdp, judge: {provider: nosuch}}\n",
      "data.jsonl": [records.question],
    });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/scorers\[0\]\.judge/);
  });
});
