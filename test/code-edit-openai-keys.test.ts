import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAIServer, startOpenAIServer } from "../src/providers/test-utils/openai-server.js";
import { qaRows, runCliAsync, testdir } from "./helpers.js";

let server: OpenAIServer;
beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(async () => {
  await server.close();
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("OPENAI_KEYS: several API keys in one variable (issue 9, as EditBench users keep them)", () => {
  it("the comma-separated keys are used round-robin by a live loopback model, and none reaches a file", async () => {
    const keys = ["sk-test-one-1111", "sk-test-two-2222", "sk-test-three-3333"];
    const dir = testdir({
      "exp.yaml": [
        "name: keys",
        "task: qa",
        "dataset: data.jsonl",
        `models: [{id: o, provider: openai, model: gpt-4o-mini, base_url: "${server.url}"}]`,
        'prompts: {plain: {user: "{{question}}"}}',
        "concurrency: 1",
        "",
      ].join("\n"),
      "data.jsonl": qaRows(6),
    });
    server.stats.keys.clear();
    const r = await runCliAsync(["run", "exp.yaml", "--no-cache"], dir, {
      OPENAI_API_KEY: "",
      OPENAI_KEYS: ` ${keys[0]}, ${keys[1]},${keys[2]},`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(Object.fromEntries(server.stats.keys)).toEqual(Object.fromEntries(keys.map((k) => [k, 2])));
    for (const file of filesUnder(join(dir, "runs")))
      for (const key of keys) expect(readFileSync(file, "utf8"), file).not.toContain(key);
  });

  it("api_key_env naming a variable with a comma-separated list rotates through it too", async () => {
    const dir = testdir({
      "exp.yaml": [
        "name: keys2",
        "task: qa",
        "dataset: data.jsonl",
        `models: [{id: o, provider: vllm, model: tiny, base_url: "${server.url}", api_key_env: MY_KEYS}]`,
        'prompts: {plain: {user: "{{question}}"}}',
        "concurrency: 1",
        "",
      ].join("\n"),
      "data.jsonl": qaRows(4),
    });
    server.stats.keys.clear();
    const r = await runCliAsync(["run", "exp.yaml", "--no-cache"], dir, { MY_KEYS: "sk-test-a,sk-test-b" });
    expect(r.code, r.stderr).toBe(0);
    expect(Object.fromEntries(server.stats.keys)).toEqual({ "sk-test-a": 2, "sk-test-b": 2 });
  });
});
