import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadExperiment } from "../src/config/index.js";
import { resolveExperiment } from "../src/pipeline/index.js";
import { createProvider } from "../src/providers/index.js";
import { type ChainServer, startChainServer } from "../src/providers/test-utils/chain-server.js";
import { predictGreedy, writeTinyGguf } from "../src/providers/test-utils/tiny-gguf.js";
import { ROOT, runCliAsync, testdir } from "./helpers.js";

const BIN = join(ROOT, "src", "cli", "bin.ts");
const TSX = ["--import", pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href];

let server: ChainServer;
beforeAll(async () => {
  server = await startChainServer({
    base: { prefix: " b" },
    oracle: { prefix: "\nO" },
    boxer: { prefix: "\n\\boxed{", suffix: "}" },
  });
});
afterAll(() => server.close());

const rows = [
  { id: "r1", question: "one", answer: "O2" },
  { id: "r2", question: "two", answer: "b0" },
];
const jsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const trialDirs = (exp: string) =>
  readdirSync(exp)
    .filter((d) => d.includes("__"))
    .sort();

const experiment = (model: string, extra = "") => `
name: g
task: qa
dataset: data.jsonl
prompts:
  qa: {user: "Q: {{question}}\\nA:"}
scorers: [includes]
models:
${model}
${extra}`;

const guidedEntry = (fields: string, base = "mode: completion") => `
  - id: guided
    provider: guided
    base: {provider: vllm, model: base, base_url: "${server.url}", ${base}}
    oracle: {provider: vllm, model: oracle, base_url: "${server.url}", mode: completion}
${fields}`;

describe("guided decoding through the CLI", () => {
  it("benchline run with a guided model writes the interleaving, positions and per-model tokens on each row", async () => {
    const dir = testdir({
      "exp.yaml": experiment(
        guidedEntry(`    c: 1
    k: 2
    step_size: 2
    max_new_tokens: 6
    policy: positions
    positions: [2]`),
      ),
      "data.jsonl": rows,
    });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir);
    expect(r.code, r.stderr).toBe(0);
    const [trial] = trialDirs(join(dir, "runs", "g"));
    const predictions = jsonl(join(dir, "runs", "g", trial as string, "predictions.jsonl"));
    expect(predictions).toHaveLength(2);
    for (const p of predictions) {
      expect(p.status).toBe("ok");
      expect(p.completion).toBe(" b0 b1\nO2\nO3 b4 b5");
      expect(p.interleaved).toEqual([
        { text: " b0 b1", model: "base", tokens: 2 },
        { text: "\nO2\nO3", model: "oracle", tokens: 2 },
        { text: " b4 b5", model: "base", tokens: 2 },
      ]);
      expect(p.cheat_positions).toEqual([2]);
      expect(p.total_tokens).toBe(6);
      expect(p.guided.base.tokens).toBe(4);
      expect(p.guided.oracle.tokens).toBe(2);
      expect(p.usage.completion_tokens).toBe(6);
    }
    const scores = jsonl(join(dir, "runs", "g", trial as string, "scores.jsonl"));
    expect(scores.map((s) => s.passed)).toEqual([true, true]);
  });

  it("a chat-mode base model is a config error naming the entry, and nothing is written", async () => {
    const dir = testdir({
      "exp.yaml": experiment(guidedEntry("    c: 1\n    k: 2\n    max_new_tokens: 6", "mode: chat")),
      "data.jsonl": rows,
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exp\.yaml: models\[0\] \("guided"\): base: .*needs mode: completion/);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("a sweep over c and k runs one trial per combination and report.md and report.html show the grid", async () => {
    const dir = testdir({
      "exp.yaml": experiment(
        guidedEntry(`    c: [0, 1]
    k: [2, 4]
    max_new_tokens: 6
    policy: positions
    positions: [2]`),
      ),
      "data.jsonl": [
        { id: "r1", question: "one", answer: "O3" },
        { id: "r2", question: "two", answer: "O5" },
      ],
    });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir);
    expect(r.code, r.stderr).toBe(0);
    const exp = join(dir, "runs", "g");
    const dirs = trialDirs(exp);
    expect(dirs.map((d) => d.replace(/__[0-9a-f]{8}$/, ""))).toEqual([
      "guided-c-0-k-2__qa",
      "guided-c-0-k-4__qa",
      "guided-c-1-k-2__qa",
      "guided-c-1-k-4__qa",
    ]);
    const completion = (d: string) => jsonl(join(exp, d, "predictions.jsonl"))[0].completion;
    expect(completion(dirs[0] as string)).toBe(" b0 b1 b2 b3 b4 b5");
    expect(completion(dirs[2] as string)).toBe(" b0 b1\nO2\nO3 b4 b5");
    expect(completion(dirs[3] as string)).toBe(" b0 b1\nO2\nO3\nO4\nO5");
    const trial = JSON.parse(readFileSync(join(exp, dirs[3] as string, "trial.json"), "utf8"));
    expect(trial.spec.grid).toEqual({ c: 1, k: 4 });
    const report = readFileSync(join(exp, "report.md"), "utf8");
    expect(report).toContain("## Sweeps");
    const grid = report.slice(report.indexOf("## Sweeps"));
    expect(grid).toMatch(/\| k \\\\? c \| c=0 \| c=1 \|/);
    // c=0 writes no O token: 0%; c=1 k=2 has O3 only: 50%; c=1 k=4 has both: 100%.
    expect(grid).toMatch(/\| k=2 \| 0\.0%[^|]*\| 50\.0%[^|]*\|/);
    expect(grid).toMatch(/\| k=4 \| 0\.0%[^|]*\| 100\.0%[^|]*\|/);
    // report.html shows the same grid.
    const html = readFileSync(join(exp, "report.html"), "utf8");
    const sweeps = html.slice(html.indexOf('<section id="sweeps">'));
    expect(sweeps).toContain("<h2>Sweeps</h2>");
    expect(sweeps).toMatch(/<th scope="col">k \\ c<\/th><th scope="col">c=0<\/th><th scope="col">c=1<\/th>/);
    const rowOf = (k: string) => sweeps.match(new RegExp(`<tr><td>${k}</td>(.*?)</tr>`))?.[1] ?? "";
    expect(rowOf("k=2").match(/<strong>([^<]*)<\/strong>/g)).toEqual([
      "<strong>0.0%</strong>",
      "<strong>50.0%</strong>",
    ]);
    expect(rowOf("k=4").match(/<strong>([^<]*)<\/strong>/g)).toEqual([
      "<strong>0.0%</strong>",
      "<strong>100.0%</strong>",
    ]);
  });

  it("c and k lists on a model that is not guided are a config error", async () => {
    const dir = testdir({
      "exp.yaml": experiment(`  - {provider: vllm, model: base, base_url: "${server.url}", c: [0, 1]}`),
      "data.jsonl": rows,
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exp\.yaml: models\[0\]\.c: not supported by provider "vllm"/);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("examples/guided.yaml resolves into its 6 trials, each with a guided provider that can be created", async () => {
    const exp = await resolveExperiment(loadExperiment(join(ROOT, "examples", "guided.yaml")), {});
    expect(exp.trials.map((t) => t.spec.model.id)).toEqual([
      "guided c=0 k=8",
      "guided c=0 k=32",
      "guided c=2 k=8",
      "guided c=2 k=32",
      "guided c=inf k=8",
      "guided c=inf k=32",
    ]);
    for (const t of exp.trials) {
      const provider = createProvider(t.spec.model, { baseDir: exp.baseDir, env: {} });
      expect(provider.id).toBe(t.spec.model.id);
      await provider.close?.();
    }
  });

  it("base and oracle can be embedded llamacpp models in completion mode (tiny GGUF chains)", async () => {
    const dir = testdir({
      "exp.yaml": `
name: tiny
task: qa
dataset: data.jsonl
models:
  - id: guided
    provider: guided
    base: {provider: llamacpp, model: base.gguf, threads: 1}
    oracle: {provider: llamacpp, model: oracle.gguf, threads: 1}
    c: 1
    k: 4
    step_size: 2
    max_new_tokens: 20
    policy: positions
    positions: [3]
prompts: {raw: {user: "{{question}}"}}
scorers: [exact]
`,
      "data.jsonl": [{ id: "a", question: "count: m", answer: predictGreedy("count: m").text }],
    });
    await writeTinyGguf(join(dir, "base.gguf"));
    await writeTinyGguf(join(dir, "oracle.gguf"), { margin: 12 });
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code, r.stderr).toBe(0);
    const exp = join(dir, "runs", "tiny");
    const [trial] = trialDirs(exp);
    const [p] = jsonl(join(exp, trial as string, "predictions.jsonl"));
    expect(p.completion).toBe("nopqrstuvwxyz");
    expect(p.finish_reason).toBe("stop");
    expect(p.interleaved.map((s: { text: string; model: string }) => [s.model, s.text])).toEqual([
      ["base", "nop"],
      ["oracle", "qrst"],
      ["base", "uvwxyz"],
    ]);
    expect(p.cheat_positions).toEqual([3]);
    expect(p.guided.oracle.tokens).toBe(4);
    expect(jsonl(join(exp, trial as string, "scores.jsonl"))[0].passed).toBe(true);
  });

  it("benchline convert --to guided writes the seed's row shape for a math trial", async () => {
    const dir = testdir({
      "exp.yaml": `
name: gm
task: math
dataset: data.jsonl
prompts:
  p: {user: "{{problem}}\\nA:"}
scorers: [math]
models:
  - id: guided
    provider: guided
    base: {provider: vllm, model: base, base_url: "${server.url}", mode: completion}
    oracle: {provider: vllm, model: boxer, base_url: "${server.url}", mode: completion}
    c: 1
    k: 1
    max_new_tokens: 4
    policy: positions
    positions: [2]
`,
      "data.jsonl": [
        { id: "m1", problem: "one plus one", answer: "2" },
        { id: "m2", problem: "two plus three", answer: "5" },
      ],
    });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir);
    expect(r.code, r.stderr).toBe(0);
    const exp = join(dir, "runs", "gm");
    const [trial] = trialDirs(exp);
    const c = await runCliAsync(
      ["convert", join(exp, trial as string), "--to", "guided", "--out", "seed.jsonl"],
      dir,
    );
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout.trim()).toBe("seed.jsonl");
    const rows = jsonl(join(dir, "seed.jsonl"));
    expect(rows).toEqual([
      {
        c: 1,
        k: 1,
        base_model_id: "base",
        oracle_model_id: "boxer",
        prompt: "one plus one\nA:",
        result: " b0 b1\n\\boxed{2} b3",
        ground_truth: "2",
        parsed_answer: "2",
        interleaved_outputs: [
          { text: " b0 b1", model: "base", tokens: 2 },
          { text: "\n\\boxed{2}", model: "oracle", tokens: 1 },
          { text: " b3", model: "base", tokens: 1 },
        ],
        cheat_positions: [2],
        total_tokens_generated: 4,
      },
      expect.objectContaining({ prompt: "two plus three\nA:", ground_truth: "5", parsed_answer: "2" }),
    ]);
    // A trial of another provider is refused with a clear error.
    const other = testdir({
      "exp.yaml": experiment(
        `  - {id: plain, provider: vllm, model: base, base_url: "${server.url}", mode: completion, max_tokens: 2}`,
      ),
      "data.jsonl": [{ id: "r1", question: "one", answer: "b0" }],
    });
    expect((await runCliAsync(["run", "exp.yaml"], other)).code).toBe(0);
    const [plain] = trialDirs(join(other, "runs", "g"));
    const bad = await runCliAsync(
      ["convert", join(other, "runs", "g", plain as string), "--to", "guided"],
      other,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/model "plain" is not a guided model/);
  });

  it("run --verbose prints each guided answer, oracle blue and base red on a terminal, plain otherwise or with NO_COLOR", async () => {
    const dir = testdir({
      "exp.yaml": experiment(
        guidedEntry(`    c: 1
    k: 2
    max_new_tokens: 6
    policy: positions
    positions: [2]`),
      ),
      "data.jsonl": rows.slice(0, 1),
    });
    const coloured = "\x1b[31m b0 b1\x1b[39m\x1b[34m\nO2\nO3\x1b[39m\x1b[31m b4 b5\x1b[39m";
    // Not a terminal: plain text.
    const plain = await runCliAsync(["run", "exp.yaml", "--verbose", "--name", "plain"], dir);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toContain("#0\n b0 b1\nO2\nO3 b4 b5\n");
    expect(plain.stderr).not.toContain("\x1b[");
    // A real terminal (a pty from script(1)): coloured.
    const cmd = [process.execPath, ...TSX, BIN, "run", "exp.yaml", "--verbose", "--name", "tty"]
      .map((a) => `'${a}'`)
      .join(" ");
    // (asynchronously: the chain server answers from this process)
    const tty = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const child = spawn("script", ["-qec", cmd, "/dev/null"], {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NO_COLOR: "", FORCE_COLOR: "0" },
      });
      let stdout = "";
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
      });
      child.on("close", (status) => resolve({ status, stdout }));
    });
    expect(tty.status, tty.stdout).toBe(0);
    expect(tty.stdout.replaceAll("\r\n", "\n")).toContain(coloured);
    // NO_COLOR on a terminal (--log tty): plain text.
    const noColour = await runCliAsync(
      ["run", "exp.yaml", "--verbose", "--log", "tty", "--name", "nc"],
      dir,
      {
        NO_COLOR: "1",
      },
    );
    expect(noColour.code, noColour.stderr).toBe(0);
    expect(noColour.stderr).toContain(" b0 b1\nO2\nO3 b4 b5\n");
    expect(noColour.stderr).not.toContain("\x1b[34m");
  });

  it("a math experiment swept over c: scores, parse rate and the grid report (equivalent form, unparsable base-only answers)", async () => {
    const dir = testdir({
      "exp.yaml": `
name: mg
task: math
dataset: data.jsonl
prompts:
  p: {user: "{{problem}}\\nA:"}
scorers: [math, math_exact]
models:
  - id: guided
    provider: guided
    base: {provider: vllm, model: base, base_url: "${server.url}", mode: completion}
    oracle: {provider: vllm, model: boxer, base_url: "${server.url}", mode: completion}
    c: [0, 1]
    k: [1]
    max_new_tokens: 4
    policy: positions
    positions: [2]
`,
      "data.jsonl": [
        { id: "m1", problem: "one plus one", answer: "2" },
        { id: "m2", problem: "four halves", answer: "\\frac{4}{2}" },
        { id: "m3", problem: "three", answer: "3" },
      ],
    });
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir);
    expect(r.code, r.stderr).toBe(0);
    const exp = join(dir, "runs", "mg");
    const [c0, c1] = trialDirs(exp) as [string, string];
    const summary = (d: string) => JSON.parse(readFileSync(join(exp, d, "summary.json"), "utf8"));
    // Base only: " b0 b1 b2 b3" has no answer: wrong, counted, parse rate 0.
    expect(summary(c0).scorers.math).toMatchObject({ mean: 0, parse: { parsed: 0, rate: 0 } });
    // The oracle writes \boxed{2}: right for 2 and (equivalent form) 4/2, wrong for 3.
    expect(summary(c1).scorers.math).toMatchObject({ parse: { parsed: 3, rate: 1 } });
    expect(summary(c1).scorers.math.mean).toBeCloseTo(2 / 3, 6);
    expect(summary(c1).scorers.math_exact.mean).toBeCloseTo(1 / 3, 6);
    const report = readFileSync(join(exp, "report.md"), "utf8");
    const trialReport = (d: string) => readFileSync(join(exp, d, "report.md"), "utf8");
    expect(trialReport(c0)).toMatch(/answers parsed: 0 of 3 \(0\.0%\)/);
    expect(trialReport(c1)).toMatch(/answers parsed: 3 of 3 \(100\.0%\)/);
    const grid = report.slice(report.indexOf("## Sweeps"));
    expect(grid).toMatch(/\| k=1 \| 0\.0%[^|]*\| 66\.7%[^|]*\|/);
  });
});
