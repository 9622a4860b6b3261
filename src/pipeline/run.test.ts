import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { qaRows, testdir } from "../../test/helpers.js";
import { loadExperiment } from "../config/index.js";
import type { Provider } from "../core/index.js";
import { resolveExperiment } from "./resolve.js";
import { runExperiment } from "./run.js";

const config = `
name: exp
task: qa
dataset: data.jsonl
models: [flaky]
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
`;

function readRows(dir: string, file: string): Record<string, unknown>[] {
  const exp = join(dir, "out/exp");
  const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
  return readFileSync(join(exp, trial!, file), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

/** Answers correctly, except that ids in `failing` throw (once each, or always). */
function flakyProvider(failing: Set<string>, always = false): Provider & { calls: number } {
  const provider = {
    id: "flaky",
    calls: 0,
    async generate(
      request: { sampleIndices: number[] },
      context: { sample: { id: string; target?: unknown } },
    ) {
      provider.calls++;
      if (failing.has(context.sample.id)) {
        if (!always) failing.delete(context.sample.id);
        throw Object.assign(new Error("upstream 503"), { code: "http_503", attempts: 3 });
      }
      return { completions: request.sampleIndices.map(() => ({ text: String(context.sample.target) })) };
    },
  };
  return provider;
}

async function setup(n: number) {
  const dir = testdir({ "exp.yaml": config.replace("[flaky]", "[gold]"), "data.jsonl": qaRows(n) });
  const exp = await resolveExperiment(loadExperiment(join(dir, "exp.yaml")), { out: join(dir, "out") });
  return { dir, exp };
}

describe("runExperiment", () => {
  it("records per-row errors apart from wrong answers and retries them on rerun", async () => {
    const { dir, exp } = await setup(6);
    const provider = flakyProvider(new Set(["q1", "q4"]));
    await runExperiment(exp, { createProvider: () => provider });
    let preds = readRows(dir, "predictions.jsonl");
    expect(
      preds
        .filter((p) => p.status === "error")
        .map((p) => p.id)
        .sort(),
    ).toEqual(["q1", "q4"]);
    expect(preds.find((p) => p.id === "q1")).toMatchObject({
      error: { code: "http_503", message: "upstream 503" },
      attempts: 3,
      completion: "",
    });
    const [trial] = readdirSync(join(dir, "out/exp")).filter((d) => d.includes("__"));
    let summary = JSON.parse(readFileSync(join(dir, "out/exp", trial!, "summary.json"), "utf8"));
    expect(summary).toMatchObject({
      mean_score: 1,
      errors: { count: 2, by_code: { http_503: 2 } },
      predictions: { ok: 4, error: 2 },
    });
    expect(summary.scorers.exact.mean_errors_as_wrong).toBeCloseTo(4 / 6);

    const callsBefore = provider.calls;
    await runExperiment(exp, { createProvider: () => provider });
    expect(provider.calls - callsBefore).toBe(2); // only the two errors
    preds = readRows(dir, "predictions.jsonl");
    expect(preds).toHaveLength(8); // appended, last row wins
    summary = JSON.parse(readFileSync(join(dir, "out/exp", trial!, "summary.json"), "utf8"));
    expect(summary).toMatchObject({ mean_score: 1, errors: { count: 0 }, predictions: { ok: 6, error: 0 } });
    expect(readRows(dir, "scores.jsonl")).toHaveLength(6);
  });

  it("keeps error rows with retryErrors: false", async () => {
    const { exp } = await setup(3);
    const provider = flakyProvider(new Set(["q0"]), true);
    await runExperiment(exp, { createProvider: () => provider });
    const calls = provider.calls;
    await runExperiment(exp, { createProvider: () => provider, retryErrors: false });
    expect(provider.calls).toBe(calls);
  });

  it("records a provider's answer with too few completions as bad_response rows, not a crash", async () => {
    const dir = testdir({
      "exp.yaml": config
        .replace("[flaky]", "[gold]")
        .replace("scorers: [exact]", "scorers: [exact]\nsamples: 2"),
      "data.jsonl": qaRows(4),
    });
    const exp = await resolveExperiment(loadExperiment(join(dir, "exp.yaml")), { out: join(dir, "out") });
    // One completion whatever was asked, like a server that ignores `n`.
    const short: Provider = {
      id: "short",
      async generate() {
        return { completions: [{ text: "1" }] };
      },
    };
    await runExperiment(exp, { createProvider: () => short });
    const preds = readRows(dir, "predictions.jsonl");
    expect(preds).toHaveLength(8);
    for (const p of preds) {
      expect(p.status).toBe("error");
      expect(p.error).toMatchObject({
        code: "bad_response",
        message: "provider returned 1 completions for 2 samples",
      });
    }
  });

  it("stops cleanly on abort, writes no row for interrupted requests, and a rerun completes", async () => {
    const { dir, exp } = await setup(40);
    const controller = new AbortController();
    let started = 0;
    const slow: Provider = {
      id: "slow",
      generate: (request, context) =>
        new Promise((resolve, reject) => {
          if (++started === 12) controller.abort();
          // The abort listener goes with its request: one a request in flight, not one a request made.
          const onAbort = () => {
            clearTimeout(timer);
            reject(Object.assign(new Error("aborted"), { code: "aborted" }));
          };
          const timer = setTimeout(() => {
            context.signal.removeEventListener("abort", onAbort);
            resolve({
              completions: request.sampleIndices.map(() => ({ text: String(context.sample.target) })),
            });
          }, 5);
          context.signal.addEventListener("abort", onAbort, { once: true });
        }),
    };
    const result = await runExperiment(exp, { createProvider: () => slow, signal: controller.signal });
    expect(result.interrupted).toBe(true);
    const partial = readRows(dir, "predictions.jsonl");
    expect(partial.length).toBeLessThan(40);
    expect(partial.every((p) => p.status === "ok")).toBe(true);

    await runExperiment(exp, { createProvider: () => flakyProvider(new Set()) });
    const all = readRows(dir, "predictions.jsonl");
    expect(all).toHaveLength(40);
    expect(new Set(all.map((p) => p.id)).size).toBe(40);
  });

  it("never lets two trials share a results folder", async () => {
    const dir = testdir({
      "exp.yaml": config
        .replace("[flaky]", "[gold, {id: gold2, provider: gold}]")
        .replace(
          'prompts: {plain: {user: "{{question}}"}}',
          'prompts: {a: {user: "{{question}}"}, b: {user: "Q: {{question}}"}}',
        ),
      "data.jsonl": qaRows(3),
    });
    const exp = await resolveExperiment(loadExperiment(join(dir, "exp.yaml")), { out: join(dir, "out") });
    await runExperiment(exp);
    const trials = readdirSync(join(dir, "out/exp")).filter((d) => d.includes("__"));
    expect(trials).toHaveLength(4);
    for (const t of trials) {
      const rows = readFileSync(join(dir, "out/exp", t, "predictions.jsonl"), "utf8")
        .trim()
        .split("\n");
      expect(rows).toHaveLength(3);
      const spec = JSON.parse(readFileSync(join(dir, "out/exp", t, "trial.json"), "utf8"));
      expect(t).toBe(spec.name);
    }
  });

  it("names the dataset by the sha256 of its bytes as stored (taken in the validation pass), gzip or not", async () => {
    const rows = `${qaRows(3)
      .map((r) => JSON.stringify(r))
      .join("\n")}\n`;
    const dir = testdir({ "exp.yaml": config.replace("[flaky]", "[gold]"), "data.jsonl": rows });
    writeFileSync(join(dir, "data.jsonl.gz"), gzipSync(rows));
    writeFileSync(
      join(dir, "big.jsonl"),
      `${qaRows(3000)
        .map((r) => JSON.stringify(r))
        .join("\n")}\n`,
    );
    for (const file of ["data.jsonl", "data.jsonl.gz", "big.jsonl"]) {
      writeFileSync(join(dir, "exp.yaml"), config.replace("[flaky]", "[gold]").replace("data.jsonl", file));
      const exp = await resolveExperiment(loadExperiment(join(dir, "exp.yaml")), { out: join(dir, "out") });
      const bytes = readFileSync(join(dir, file));
      expect(exp.dataset.sha256, file).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(exp.trials[0]!.spec.dataset.sha256).toBe(exp.dataset.sha256);
    }
  });
});
