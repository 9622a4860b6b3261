import { readdirSync, readFileSync } from "node:fs";
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

const config = () => `
name: fail
task: qa
dataset: data.jsonl
models:
  - {id: local, provider: vllm, model: tiny, base_url: "${server.url}", max_attempts: 1}
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
concurrency: 4
`;

function trialDir(dir: string): string {
  const exp = join(dir, "runs/fail");
  return join(exp, readdirSync(exp).find((d) => d.includes("__"))!);
}

describe("a run whose rows fail says how", () => {
  it("defect 8 (all rows failed): exits 3, names the error codes with an example in the log, summary and report", async () => {
    server.setFaults(() => ({ status: 500, body: '{"error":{"message":"invalid api key"}}' }));
    try {
      const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(6) });
      const plain = await runCliAsync(["run", "exp.yaml", "--no-cache", "--log", "plain"], dir);
      expect(plain.code).toBe(3);
      expect(plain.stderr).toMatch(
        /error: every row of trial \S+ failed: (\w+) ×6 — e\.g\. \1: .*invalid api key/,
      );
      // The plain progress line names the codes with an example.
      expect(plain.stderr).toMatch(
        /inference: 6 row\(s\) written, 6 error\(s\) \((\w+) ×6 — e\.g\. \1: .*invalid api key/,
      );
      const summary = JSON.parse(readFileSync(join(trialDir(dir), "summary.json"), "utf8"));
      const [code] = Object.keys(summary.errors.by_code);
      expect(summary.errors.by_code).toEqual({ [code!]: 6 });
      expect(summary.errors.examples[code!]).toContain("invalid api key");
      const report = readFileSync(join(trialDir(dir), "report.md"), "utf8");
      expect(report).toContain(`| ${code} | 6 | HTTP 500`);
      expect(report).toMatch(/invalid api key.* \|/);

      // The JSON log: every row event carries the code and message.
      const json = await runCliAsync(["run", "exp.yaml", "--no-cache", "--log", "json"], dir);
      expect(json.code).toBe(3);
      const rows = json.stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l))
        .filter((e) => e.type === "row" && e.phase === "inference");
      expect(rows).toHaveLength(6);
      for (const row of rows) {
        expect(row.status).toBe("error");
        expect(row.error.code).toBe(code);
        expect(row.error.message).toContain("invalid api key");
      }
    } finally {
      server.setFaults(undefined);
    }
  });

  it("a run with some failed rows still exits 0 and reports the codes", async () => {
    server.setFaults(({ index }) =>
      index % 2 === 0 ? { status: 400, body: "bad request body" } : undefined,
    );
    try {
      const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(6) });
      const r = await runCliAsync(["run", "exp.yaml", "--no-cache", "--log", "plain"], dir);
      expect(r.code).toBe(0);
      expect(r.stderr).not.toContain("every row of trial");
      expect(r.stderr).toMatch(/3 error\(s\) \((\w+) ×3 — e\.g\. \1: .*bad request body/);
    } finally {
      server.setFaults(undefined);
    }
  });
});
