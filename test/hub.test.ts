import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parquetWriteBuffer } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { predictGreedy, writeTinyGguf } from "../src/providers/test-utils/tiny-gguf.js";
import { type HubServer, hubEnv, startHubServer } from "../src/sources/test-utils/hub-server.js";
import { runCliAsync, testdir } from "./helpers.js";

/** A qa split as Parquet, in two row groups, with the question in an `instruction` column. */
function qaParquet(rows: { id: string; instruction: string; answer: string }[]): Buffer {
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "id", data: rows.map((r) => r.id), type: "STRING" },
      { name: "instruction", data: rows.map((r) => r.instruction), type: "STRING" },
      { name: "answer", data: rows.map((r) => r.answer), type: "STRING" },
      { name: "n", data: rows.map((_, i) => BigInt(i)), type: "INT64" },
    ],
    rowGroupSize: 3,
  });
  return Buffer.from(buffer);
}

const rows = (n: number, prefix = "q") =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    instruction: `What is ${i} plus one?`,
    answer: String(i + 1),
  }));

const trials = (dir: string, name: string) =>
  readdirSync(join(dir, "runs", name))
    .filter((d) => d.includes("__"))
    .sort();

const lines = (path: string) => readFileSync(path, "utf8").trim().split("\n").filter(Boolean);

// Several CLI runs per test: generous on a loaded 2-core machine.
describe("datasets by hub id (hf:owner/name) from a loopback hub", { timeout: 240_000 }, () => {
  let hub: HubServer;
  beforeAll(async () => {
    hub = await startHubServer();
  });
  afterAll(async () => {
    await hub.close();
  });

  const env = (dir: string, extra: Record<string, string> = {}) => hubEnv(hub.url, dir, extra);

  it("downloads a Parquet split once, runs offline from the cache, and a new revision is a new trial", async () => {
    const first = hub.push("datasets", "acme/qa-parquet", {
      "README.md": "# qa\n",
      "data/train-00000-of-00001.parquet": qaParquet(rows(4, "t")),
      "data/test-00000-of-00001.parquet": qaParquet(rows(7)),
    });
    const dir = testdir({
      "exp.yaml": `
name: hubqa
task: qa
dataset: {hf: acme/qa-parquet, split: test}
fields: {question: instruction}
models: [gold]
prompts: {plain: {user: "{{question}}"}}
`,
    });
    const r1 = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, env(dir));
    expect(r1.code).toBe(0);
    expect(r1.stderr).toContain("downloading hf:acme/qa-parquet/data/test-00000-of-00001.parquet");
    const [trial] = trials(dir, "hubqa");
    const trialDir = join(dir, "runs/hubqa", trial!);
    const prompts = lines(join(trialDir, "prompts.jsonl")).map((l) => JSON.parse(l));
    expect(prompts.map((p) => p.id)).toEqual(rows(7).map((r) => r.id));
    expect(prompts[3].prompt).toBe("What is 3 plus one?");
    expect(JSON.parse(readFileSync(join(trialDir, "summary.json"), "utf8")).mean_score).toBe(1);
    const { spec } = JSON.parse(readFileSync(join(trialDir, "trial.json"), "utf8"));
    expect(spec.dataset.hub).toMatchObject({ sha: first, config: "default", split: "test" });
    expect(spec.dataset.hub.files).toEqual(["data/test-00000-of-00001.parquet"]);
    const manifest = JSON.parse(readFileSync(join(dir, "runs/hubqa/experiment.json"), "utf8"));
    expect(manifest.dataset).toMatchObject({ path: "hf:acme/qa-parquet[test]", rows: 7 });
    expect(readFileSync(join(dir, "runs/hubqa/report.md"), "utf8")).toContain("`hf:acme/qa-parquet[test]`");
    // Only the test split was downloaded (through the LFS redirect), once.
    expect(hub.requests.filter((r) => r.includes("/resolve/"))).toEqual([
      `GET /datasets/acme/qa-parquet/resolve/${first}/data/test-00000-of-00001.parquet`,
    ]);
    expect(hub.requests.filter((r) => r.startsWith("GET /cdn/"))).toHaveLength(1);

    // Offline, with the hub gone from the endpoint: the cache answers, nothing is redone.
    const before = hub.requests.length;
    const predictions = readFileSync(join(trialDir, "predictions.jsonl"), "utf8");
    const r2 = await runCliAsync(
      ["run", "exp.yaml"],
      dir,
      env(dir, { HF_ENDPOINT: "http://127.0.0.1:9", HF_HUB_OFFLINE: "1" }),
    );
    expect(r2.stderr).not.toContain("downloading");
    expect(r2.code).toBe(0);
    expect(hub.requests.length).toBe(before);
    expect(trials(dir, "hubqa")).toEqual([trial]);
    expect(readFileSync(join(trialDir, "predictions.jsonl"), "utf8")).toBe(predictions);

    // A new commit on main: a new trial (same dataset name, new content), the old one kept.
    const second = hub.push("datasets", "acme/qa-parquet", {
      "data/test-00000-of-00001.parquet": qaParquet(rows(9)),
    });
    const r3 = await runCliAsync(["run", "exp.yaml"], dir, env(dir));
    expect(r3.code).toBe(0);
    const after = trials(dir, "hubqa");
    expect(after).toHaveLength(2);
    const fresh = after.find((t) => t !== trial)!;
    expect(lines(join(dir, "runs/hubqa", fresh, "prompts.jsonl"))).toHaveLength(9);
    expect(
      JSON.parse(readFileSync(join(dir, "runs/hubqa", fresh, "trial.json"), "utf8")).spec.dataset.hub.sha,
    ).toBe(second);

    // Pinned to the first commit, offline: the first trial again, from the cache.
    const pinned = readFileSync(join(dir, "exp.yaml"), "utf8").replace(
      "split: test}",
      `split: test, revision: ${first}}`,
    );
    writeFileSync(join(dir, "exp.yaml"), pinned);
    const r5 = await runCliAsync(
      ["run", "exp.yaml", "--offline"],
      dir,
      env(dir, { HF_ENDPOINT: "http://127.0.0.1:9" }),
    );
    expect(r5.stderr).not.toContain("downloading");
    expect(r5.code).toBe(0);
    expect(trials(dir, "hubqa")).toEqual(after);
  });

  it("reads a JSON Lines config from the card's configs, and refuses what is not there", async () => {
    const jsonl = (n: number) =>
      rows(n)
        .map((r) => `${JSON.stringify({ ...r, question: r.instruction })}\n`)
        .join("");
    hub.push(
      "datasets",
      "acme/qa-jsonl",
      {
        "small/test.jsonl": jsonl(3),
        "large/part-0.jsonl": jsonl(5),
        "large/part-1.jsonl": rows(2, "z")
          .map((r) => `${JSON.stringify({ ...r, question: r.instruction })}\n`)
          .join(""),
      },
      {
        card: {
          configs: [
            { config_name: "small", data_files: [{ split: "test", path: "small/*.jsonl" }], default: true },
            { config_name: "large", data_files: [{ split: "test", path: "large/part-*.jsonl" }] },
          ],
        },
      },
    );
    const dir = testdir({
      "small.yaml": "name: s\ntask: qa\ndataset: hf:acme/qa-jsonl\nmodels: [gold]\n",
      "large.yaml":
        "name: l\ntask: qa\ndataset: {hf: acme/qa-jsonl, config: large, split: test}\nmodels: [gold]\n",
      "nosplit.yaml": "name: n\ntask: qa\ndataset: {hf: acme/qa-jsonl, split: train}\nmodels: [gold]\n",
      "noconfig.yaml": "name: n\ntask: qa\ndataset: {hf: acme/qa-jsonl, config: huge}\nmodels: [gold]\n",
    });
    const small = await runCliAsync(["run", "small.yaml"], dir, env(dir));
    expect(small.code).toBe(0);
    expect(lines(join(dir, "runs/s", trials(dir, "s")[0]!, "prompts.jsonl"))).toHaveLength(3);
    const large = await runCliAsync(["run", "large.yaml"], dir, env(dir));
    expect(large.code).toBe(0);
    expect(lines(join(dir, "runs/l", trials(dir, "l")[0]!, "prompts.jsonl"))).toHaveLength(7);
    const nosplit = await runCliAsync(["run", "nosplit.yaml"], dir, env(dir));
    expect(nosplit.code).toBe(2);
    expect(nosplit.stderr).toContain('hf:acme/qa-jsonl: config "small" has no split "train" (splits: test)');
    const noconfig = await runCliAsync(["run", "noconfig.yaml"], dir, env(dir));
    expect(noconfig.code).toBe(2);
    expect(noconfig.stderr).toContain('no config "huge" (configs: small, large)');
    expect(existsSync(join(dir, "runs/n"))).toBe(false);
  });

  it("a gated dataset needs HF_TOKEN, which is sent but never written or printed", async () => {
    const token = "mirror-secretTOKEN1234567890";
    hub.push(
      "datasets",
      "acme/gated",
      // Large enough to be an LFS file: served from the CDN origin after a redirect.
      { "test.jsonl": `${JSON.stringify({ id: "g1", question: "q?", answer: "a".repeat(2000) })}\n` },
      { token },
    );
    const dir = testdir({ "exp.yaml": "name: g\ntask: qa\ndataset: hf:acme/gated\nmodels: [gold]\n" });
    const refused = await runCliAsync(["run", "exp.yaml"], dir, env(dir));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("hf:acme/gated: the hub refused access (HTTP 401)");
    expect(refused.stderr).toContain("HF_TOKEN");
    const ok = await runCliAsync(["run", "exp.yaml"], dir, env(dir, { HF_TOKEN: token }));
    expect(ok.code).toBe(0);
    expect(`${ok.stdout}${ok.stderr}`).not.toContain(token);
    expect(hub.requests.some((r) => r.startsWith("GET /cdn/"))).toBe(true);
    expect(hub.stats.cdnWithAuthorization).toBe(0);
    for (const root of ["runs", "cache"]) {
      const walk = (d: string): string[] =>
        readdirSync(d, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)],
        );
      for (const file of walk(join(dir, root))) expect(readFileSync(file, "utf8")).not.toContain(token);
    }
  });

  it("offline without a cached copy is a clear error, and nothing is written", async () => {
    const dir = testdir({ "exp.yaml": "name: o\ntask: qa\ndataset: hf:acme/qa-parquet\nmodels: [gold]\n" });
    const r = await runCliAsync(["run", "exp.yaml"], dir, env(dir, { HF_HUB_OFFLINE: "1" }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("hf:acme/qa-parquet@main: not in the cache");
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("llamacpp:hf:owner/repo/file.gguf downloads the model once (with progress), then runs it from the cache", async () => {
    const dir = testdir({
      "exp.yaml": `
name: tinyhub
task: qa
dataset: data.jsonl
models:
  - {provider: llamacpp, model: "hf:acme/tiny-GGUF/models/tiny-q8.gguf", mode: completion, max_tokens: 6, temperature: 0, threads: 1}
prompts: {raw: {user: "{{question}}"}}
`,
      "data.jsonl": [
        { id: "a", question: "hello wor", answer: predictGreedy("hello wor", 6).text },
        { id: "b", question: "count: m", answer: "nope" },
      ],
    });
    const gguf = readFileSync(await writeTinyGguf(join(dir, "built.gguf")));
    const sha = hub.push("models", "acme/tiny-GGUF", { "README.md": "tiny\n", "models/tiny-q8.gguf": gguf });
    const r1 = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, env(dir));
    expect(r1.code).toBe(0);
    expect(r1.stderr).toContain("downloading hf:acme/tiny-GGUF/models/tiny-q8.gguf");
    expect(r1.stderr).toMatch(/\(100%\) {2}done/);
    expect(hub.requests).toContain(`GET /acme/tiny-GGUF/resolve/${sha}/models/tiny-q8.gguf`);
    const [trial] = trials(dir, "tinyhub");
    expect(trial).toMatch(/^llamacpp-hf-acme-tiny-gguf-models-tiny-q8.gguf__raw__/);
    const trialDir = join(dir, "runs/tinyhub", trial!);
    const preds = lines(join(trialDir, "predictions.jsonl")).map((l) => JSON.parse(l));
    expect(preds.find((p) => p.id === "a").completion).toBe(predictGreedy("hello wor", 6).text);
    expect(JSON.parse(readFileSync(join(trialDir, "summary.json"), "utf8")).mean_score).toBe(0.5);
    const { spec } = JSON.parse(readFileSync(join(trialDir, "trial.json"), "utf8"));
    expect(spec.model.sha256).toMatch(/^[0-9a-f]{64}$/);

    // From the cache, offline, in another output directory (no response cache): the model runs
    // again, in a trial of the same name, and nothing is downloaded.
    const downloads = hub.requests.filter((r) => r.includes("tiny-q8.gguf")).length;
    const r2 = await runCliAsync(
      ["run", "exp.yaml", "--offline", "--out", "again", "--no-cache"],
      dir,
      env(dir, { HF_ENDPOINT: "http://127.0.0.1:9" }),
    );
    expect(r2.code).toBe(0);
    expect(r2.stderr).not.toContain("downloading");
    expect(hub.requests.filter((r) => r.includes("tiny-q8.gguf")).length).toBe(downloads);
    const again = readdirSync(join(dir, "again/tinyhub")).filter((d) => d.includes("__"));
    expect(again).toEqual([trial]);
    const preds2 = lines(join(dir, "again/tinyhub", trial!, "predictions.jsonl")).map((l) => JSON.parse(l));
    expect(preds2.find((p) => p.id === "b").completion).toBe(predictGreedy("count: m", 6).text);
    expect(preds2.every((p) => p.cached === false)).toBe(true);
  });

  it("a hub model file that is not in the repository is a clear error naming the GGUF files there", async () => {
    const dir = testdir({
      "exp.yaml":
        'name: m\ntask: qa\ndataset: data.jsonl\nmodels: ["llamacpp:hf:acme/tiny-GGUF/nope.gguf"]\n',
      "data.jsonl": [{ id: "a", question: "q", answer: "a" }],
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir, env(dir));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has no file "nope.gguf" (GGUF files: models/tiny-q8.gguf)');
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });
});
