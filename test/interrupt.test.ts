import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAIServer, startOpenAIServer } from "../src/providers/test-utils/openai-server.js";
import { qaRows, spawnCli, testdir } from "./helpers.js";

let server: OpenAIServer;
beforeAll(async () => {
  server = await startOpenAIServer({ latencyMs: 400 });
});
afterAll(async () => {
  await server.close();
});

describe("Ctrl-C", () => {
  it("defect 8 (Ctrl-C message): the message says in-flight work is cancelled, not finished, and that is what happens", async () => {
    const dir = testdir({
      "exp.yaml": `name: stop
task: qa
dataset: data.jsonl
models:
  - {id: local, provider: vllm, model: tiny, base_url: "${server.url}", timeout: 30}
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
concurrency: 4
`,
      "data.jsonl": qaRows(40),
    });
    const child = spawnCli(["run", "exp.yaml", "--no-cache", "--log", "plain"], dir);
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Wait until some rows are done and 4 requests are in flight.
    const trialDir = (): string | undefined => {
      try {
        const name = readdirSync(join(dir, "runs/stop")).find((d) => d.includes("__"));
        return name ? join(dir, "runs/stop", name) : undefined;
      } catch {
        return undefined;
      }
    };
    const rowsOnDisk = (): number => {
      const t = trialDir();
      try {
        return t ? readFileSync(join(t, "predictions.jsonl"), "utf8").split("\n").filter(Boolean).length : 0;
      } catch {
        return 0;
      }
    };
    for (let i = 0; i < 200 && rowsOnDisk() < 4; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 150)); // the next 4 requests are on the wire
    const requestsSent = server.stats.requests;
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(stderr).toContain("cancelling requests and executions in flight (not saved; a rerun redoes them)");
    expect(stderr).not.toContain("finishing in-flight");
    const rows = rowsOnDisk();
    // Requests that were in flight were cancelled and not written …
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(requestsSent);
    // … no new request was sent after the interrupt …
    expect(server.stats.requests).toBe(requestsSent);
    // … and the reports were written from the completed rows.
    const summary = JSON.parse(readFileSync(join(trialDir()!, "summary.json"), "utf8"));
    expect(summary.predictions.ok).toBe(rows);
    expect(summary.predictions.missing).toBe(40 - rows);
    expect(stderr).toContain("run the same command to resume");
  });
});
