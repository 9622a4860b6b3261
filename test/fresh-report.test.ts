import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadExperiment } from "../src/config/index.js";
import { resolveExperiment } from "../src/pipeline/resolve.js";
import { runExperiment } from "../src/pipeline/run.js";
import * as trialData from "../src/pipeline/trial-data.js";
import { type OpenAIServer, startOpenAIServer } from "../src/providers/test-utils/openai-server.js";
import { qaRows, runCliAsync, testdir } from "./helpers.js";

// Issue 15: the report of a trial the run started from nothing is built from its rows as they were
// written (`FreshReport`), not read back from the files after the last answer. It must be the
// report `benchline report` makes from the files: every file, byte for byte.

vi.mock("../src/pipeline/trial-data.js", async (original) => {
  const actual = await original<typeof import("../src/pipeline/trial-data.js")>();
  return { ...actual, loadTrialData: vi.fn(actual.loadTrialData) };
});

let server: OpenAIServer;
beforeAll(async () => {
  // Questions about 3, 13, 23, ... fail for good (an error row each); the rest are answered, some
  // of them containing the answer (`includes` passes), most not.
  server = await startOpenAIServer({
    faults: ({ body }) => (/What is \d*3 plus/.test(JSON.stringify(body)) ? { status: 400 } : undefined),
  });
});
afterAll(async () => {
  await server.close();
});

/** Every file under `dir`, by relative path, with its bytes. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  return files;
}

const config = (url: string, extra = ""): string => `name: fresh
task: qa
dataset: data.jsonl
models:
  - gold
  - {id: local, provider: vllm, model: tiny, base_url: "${url}", price: {input: 0.5, output: 1.5}}
prompts: {plain: {user: "{{question}}"}}
scorers: [includes, exact]
samples: 2
concurrency: 8
${extra}`;

describe("the report of a fresh trial, built as its rows are written", () => {
  it("is every file `benchline report` makes from the run files, byte for byte", async () => {
    const dir = testdir({ "exp.yaml": config(server.url), "data.jsonl": qaRows(57) });
    const run = await runCliAsync(["run", "exp.yaml", "--no-cache", "--log", "plain"], dir);
    expect(run.code, run.stderr).toBe(0);
    const exp = join(dir, "runs", "fresh");
    const made = snapshot(exp);
    // The trials' CSV parts were copied into the experiment's CSVs and removed.
    expect([...made.keys()].filter((k) => k.includes(".tmp-"))).toEqual([]);
    // What the comparison covers: errors, categories, two samples, two trials compared.
    const local = [...made.keys()].find((k) => k.startsWith("local__") && k.endsWith("summary.json"))!;
    const summary = JSON.parse(made.get(local)!);
    expect(summary.predictions.error).toBe(12); // 6 items × 2 samples
    expect(Object.keys(summary.per_category).sort()).toEqual(["even", "odd"]);
    expect(JSON.parse(made.get("comparison.json")!).comparisons).toHaveLength(1);
    expect(made.get("predictions.csv")!.split("\n").length).toBeGreaterThan(4 * 57);

    const report = await runCliAsync(["report", "runs/fresh"], dir);
    expect(report.code, report.stderr).toBe(0);
    const again = snapshot(exp);
    expect([...again.keys()].sort()).toEqual([...made.keys()].sort());
    for (const [path, bytes] of made) expect(again.get(path), path).toBe(bytes);
  });

  it("reads no trial back from its files when every trial is fresh, and reads them all on a rerun", async () => {
    const dir = testdir({ "exp.yaml": config(server.url), "data.jsonl": qaRows(20) });
    const resolve = () =>
      resolveExperiment(loadExperiment(join(dir, "exp.yaml")), { out: join(dir, "runs") });
    const load = vi.mocked(trialData.loadTrialData);
    load.mockClear();
    await runExperiment(await resolve(), { cacheDir: false });
    expect(load).not.toHaveBeenCalled();
    const first = snapshot(join(dir, "runs", "fresh"));

    // Nothing new to ask (errors are not retried): both trials are on file, so the report reads
    // both back, to the same bytes.
    await runExperiment(await resolve(), { cacheDir: false, retryErrors: false });
    expect(load).toHaveBeenCalledTimes(2);
    const second = snapshot(join(dir, "runs", "fresh"));
    for (const [path, bytes] of first) expect(second.get(path), path).toBe(bytes);
  });
});
