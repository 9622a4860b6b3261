import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTinyGguf } from "../src/providers/test-utils/tiny-gguf.js";
import { type HubServer, hubEnv, startHubServer } from "../src/sources/test-utils/hub-server.js";
import { runCliAsync, testdir } from "./helpers.js";

// Issue 12: guided decoding's base and oracle may be GGUF files on the hub (`llamacpp:hf:…`),
// downloaded once through the hub model code, then run from the cache.
describe("guided base and oracle by hub id (llamacpp:hf:owner/repo/file.gguf)", { timeout: 240_000 }, () => {
  let hub: HubServer;
  beforeAll(async () => {
    hub = await startHubServer();
  });
  afterAll(async () => {
    await hub.close();
  });
  const env = (dir: string, extra: Record<string, string> = {}) => hubEnv(hub.url, dir, extra);
  const exp = (tokenLevel: boolean) => `
name: hubguided
task: qa
dataset: data.jsonl
models:
  - id: guided
    provider: guided
    base: "llamacpp:hf:acme/tiny-GGUF/base.gguf"
    oracle: {provider: llamacpp, model: "hf:acme/tiny-GGUF/oracle.gguf", threads: 1}
    token_level: ${tokenLevel}
    c: 1
    k: 4
    step_size: 2
    max_new_tokens: 20
    policy: positions
    positions: [3]
prompts: {raw: {user: "{{question}}"}}
scorers: [exact]
`;
  const rowsOf = (trialDir: string) =>
    readFileSync(join(trialDir, "predictions.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
  const expected = {
    completion: "noprtvxyz",
    interleaved: [
      { text: "nop", model: "base", tokens: 3 },
      { text: "rtvx", model: "oracle", tokens: 4 },
      { text: "yz", model: "base", tokens: 3 },
    ],
    cheat_positions: [3],
  };

  it("downloads each model once, runs token level and text level from the cache, offline too", async () => {
    const sha = hub.push("models", "acme/tiny-GGUF", {
      "README.md": "tiny\n",
      "base.gguf": buildTinyGguf(),
      "oracle.gguf": buildTinyGguf({ step: 2 }),
    });
    const dir = testdir({
      "exp.yaml": exp(true),
      "text.yaml": exp(false),
      "data.jsonl": [{ id: "a", question: "count: m", answer: "x" }],
    });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, env(dir));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("downloading hf:acme/tiny-GGUF/base.gguf");
    expect(r.stderr).toContain("downloading hf:acme/tiny-GGUF/oracle.gguf");
    for (const file of ["base.gguf", "oracle.gguf"])
      expect(hub.requests.filter((q) => q === `GET /acme/tiny-GGUF/resolve/${sha}/${file}`)).toHaveLength(1);
    const [trial] = readdirSync(join(dir, "runs/hubguided")).filter((d) => d.includes("__"));
    const trialDir = join(dir, "runs/hubguided", trial as string);
    const [row] = rowsOf(trialDir);
    expect({
      completion: row.completion,
      interleaved: row.interleaved,
      cheat_positions: row.cheat_positions,
    }).toEqual(expected);
    // Each entry is identified by its file's content; the cached path is recorded, not hashed.
    const { spec } = JSON.parse(readFileSync(join(trialDir, "trial.json"), "utf8"));
    for (const role of ["base", "oracle"]) {
      expect(spec.model.options[role].sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(spec.model.options[role].path).toContain(join(dir, "cache"));
    }
    expect(spec.model.options.base.sha256).not.toBe(spec.model.options.oracle.sha256);

    // Another cache directory (so another local path) is the same trial: the path is not identity.
    const again = await runCliAsync(
      ["run", "exp.yaml", "--out", "again"],
      dir,
      env(dir, { BENCHLINE_CACHE_DIR: join(dir, "cache2") }),
    );
    expect(again.code, again.stderr).toBe(0);
    expect(readdirSync(join(dir, "again/hubguided")).filter((d) => d.includes("__"))).toEqual([trial]);
    expect(rowsOf(join(dir, "again/hubguided", trial as string))[0].interleaved).toEqual(
      expected.interleaved,
    );
    const downloads = hub.requests.filter((q) => q.endsWith(".gguf")).length;
    expect(downloads).toBe(4);

    // The text-level loop (two llamacpp providers) over the first cache, offline (a dead endpoint).
    const text = await runCliAsync(
      ["run", "text.yaml", "--offline", "--out", "text"],
      dir,
      env(dir, { HF_ENDPOINT: "http://127.0.0.1:9" }),
    );
    expect(text.code, text.stderr).toBe(0);
    const [textTrial] = readdirSync(join(dir, "text/hubguided")).filter((d) => d.includes("__"));
    const [textRow] = rowsOf(join(dir, "text/hubguided", textTrial as string));
    expect(textRow.interleaved).toEqual(expected.interleaved);
    expect(text.stderr).not.toContain("downloading");
    expect(hub.requests.filter((q) => q.endsWith(".gguf")).length).toBe(downloads);
  });

  it("a guided model's hub file that is not there is a clear error naming the entry", async () => {
    const dir = testdir({
      "exp.yaml": exp(true).replace("oracle.gguf", "nope.gguf"),
      "data.jsonl": [{ id: "a", question: "count: m", answer: "x" }],
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir, env(dir));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /model "guided": oracle: hf:acme\/tiny-GGUF@[0-9a-f]{12} has no file "nope\.gguf" \(GGUF files: base\.gguf, oracle\.gguf\)/,
    );
  });
});
