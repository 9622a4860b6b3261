import { chmodSync, existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { qaRows, runCli, testdir } from "./helpers.js";

const experiment = (models: string, extra = "") => `
name: models
task: qa
dataset: data.jsonl
models:
${models}
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
${extra}`;

const jsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
const trialDirs = (exp: string) => readdirSync(exp).filter((d) => d.includes("__"));

/** A command model that answers `text` (with `usage` when given) and ignores its input. */
function writeScript(dir: string, name: string, text: string, usage?: [number, number]): void {
  const body = usage
    ? `{"completion": "${text}", "usage": {"prompt_tokens": ${usage[0]}, "completion_tokens": ${usage[1]}}}`
    : text;
  writeFileSync(join(dir, name), `#!/bin/sh\ncat > /dev/null\necho '${body}'\n`);
  chmodSync(join(dir, name), 0o755);
}

describe("model options: honoured or rejected, never ignored", () => {
  it("defect 8.4: an option the provider does not honour is a config error naming the file and entry", () => {
    const dir = testdir({ "data.jsonl": qaRows(2), "tiny.gguf": "x", "model.sh": "#!/bin/sh\necho 1\n" });
    const cases: [string, RegExp][] = [
      [
        "  - {id: t, provider: llamacpp, model: tiny.gguf, adaptive: true}",
        /^benchline: exp\.yaml: models\[1\]\.adaptive: not supported by provider "llamacpp" \(it takes: .*timeout.*threads/,
      ],
      [
        "  - {id: g, provider: gold, temperature: 0.5}",
        /exp\.yaml: models\[1\]\.temperature: not supported by provider "gold"/,
      ],
      [
        "  - {id: e, provider: echo, rpm: 10}",
        /exp\.yaml: models\[1\]\.rpm: not supported by provider "echo"/,
      ],
      [
        "  - {id: c, provider: command, model: model.sh, base_url: 'http://x'}",
        /models\[1\]\.base_url: not supported by provider "command"/,
      ],
      [
        "  - {id: o, provider: openai, model: gpt-4o, threads: 2}",
        /models\[1\]\.threads: not supported by provider "openai"/,
      ],
      [
        "  - {id: i, provider: import, model: r.jsonl, timeout: 5}",
        /models\[1\]\.timeout: not supported by provider "import"/,
      ],
    ];
    for (const [model, expected] of cases) {
      writeFileSync(join(dir, "exp.yaml"), experiment(`  - gold\n${model}`));
      const r = runCli(["run", "exp.yaml"], dir);
      expect(r.code, model).toBe(2);
      expect(r.stderr, model).toMatch(expected);
      expect(existsSync(join(dir, "runs")), model).toBe(false);
    }
  });

  it("defect 8.4: --timeout reaches the models that make requests and is no error for gold", () => {
    const dir = testdir({
      "exp.yaml": experiment("  - gold\n  - command:model.sh"),
      "data.jsonl": qaRows(2),
    });
    writeScript(dir, "model.sh", "1");
    const r = runCli(["run", "exp.yaml", "--timeout", "5"], dir);
    expect(r.code).toBe(0);
    const options = Object.fromEntries(
      trialDirs(join(dir, "runs/models")).map((trial) => {
        const spec = JSON.parse(readFileSync(join(dir, "runs/models", trial, "trial.json"), "utf8")).spec;
        return [spec.model.id, spec.model.options];
      }),
    );
    expect(options).toEqual({ gold: {}, "command:model.sh": { timeout: 5 } });
  });

  it("defect 8.5: invalid model options name the file and the entry", () => {
    const dir = testdir({ "data.jsonl": qaRows(2) });
    const cases: [string, RegExp][] = [
      [
        "  - {id: v, provider: vllm, model: m, base_url: 'not a url'}",
        /^benchline: exp\.yaml: models\[1\]\.base_url: Invalid URL/,
      ],
      [
        "  - {id: o, provider: openai, model: m, api_keys: []}",
        /^benchline: exp\.yaml: models\[1\]\.api_keys: .*>=1/,
      ],
      [
        "  - {id: o, provider: openai}",
        /^benchline: exp\.yaml: models\[1\]\.model: provider "openai" needs a model/,
      ],
      [
        "  - {id: c, provider: command}",
        /^benchline: exp\.yaml: models\[1\]\.model: provider "command" needs a model/,
      ],
      [
        "  - {id: c, provider: command, model: nope.sh}",
        /^benchline: exp\.yaml: models\[1\]\.model: nope\.sh: file not found/,
      ],
    ];
    for (const [model, expected] of cases) {
      writeFileSync(join(dir, "exp.yaml"), experiment(`  - gold\n${model}`));
      const r = runCli(["run", "exp.yaml"], dir);
      expect(r.code, model).toBe(2);
      expect(r.stderr, model).toMatch(expected);
    }
  });

  it("defect 8.5: two unknown fields at different levels are each named where they are", () => {
    const dir = testdir({
      "exp.yaml": experiment("  - gold\n  - {provider: echo, foo: 1}", "bogus: 2\n"),
      "data.jsonl": qaRows(2),
    });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^benchline: exp\.yaml: unknown field "bogus"; models\[1\]: unknown field "foo"\n/,
    );
  });
});

describe("models identified by content", () => {
  it("a changed command script under the same path is a new trial and misses the cache; a touch is not", () => {
    const dir = testdir({ "exp.yaml": experiment("  - command:model.sh"), "data.jsonl": qaRows(2) });
    const exp = (name: string) => join(dir, "runs", name);
    const predictions = (name: string) => {
      const [trial] = trialDirs(exp(name));
      return { trial: trial!, rows: jsonl(join(exp(name), trial!, "predictions.jsonl")) };
    };
    writeScript(dir, "model.sh", "first");
    expect(runCli(["run", "exp.yaml", "--name", "a"], dir).code).toBe(0);
    const a = predictions("a");
    expect(a.rows.map((p) => [p.completion, p.cached])).toEqual([
      ["first", false],
      ["first", false],
    ]);

    writeScript(dir, "model.sh", "other"); // same path, same size, new content
    expect(runCli(["run", "exp.yaml", "--name", "b"], dir).code).toBe(0);
    const b = predictions("b");
    expect(b.trial).not.toBe(a.trial);
    expect(b.rows.map((p) => [p.completion, p.cached])).toEqual([
      ["other", false],
      ["other", false],
    ]);

    // In the same experiment, the changed script is a second trial beside the first.
    expect(runCli(["run", "exp.yaml", "--name", "a"], dir).code).toBe(0);
    expect(trialDirs(exp("a")).sort()).toEqual([a.trial, b.trial].sort());

    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, "model.sh"), later, later); // touched, content unchanged
    expect(runCli(["run", "exp.yaml", "--name", "c"], dir).code).toBe(0);
    const c = predictions("c");
    expect(c.trial).toBe(b.trial);
    expect(c.rows.map((p) => [p.completion, p.cached])).toEqual([
      ["other", true],
      ["other", true],
    ]);
    const hashes = JSON.parse(readFileSync(join(dir, "runs/.cache/file-hashes.json"), "utf8"));
    expect(Object.keys(hashes)).toEqual([join(dir, "model.sh")]);
  });

  it("a changed llamacpp model file under the same path is a new trial; a touch is not", () => {
    const dir = testdir({
      "exp.yaml": experiment("  - {id: m, provider: llamacpp, model: m.gguf}"),
      "data.jsonl": qaRows(1),
      "m.gguf": "weights A",
    });
    const trials = () => trialDirs(join(dir, "runs/models")).sort();
    // The prompts phase needs no model loaded: only the identity is exercised.
    expect(runCli(["run", "exp.yaml", "--phase", "prompts"], dir).code).toBe(0);
    const [first] = trials();
    writeFileSync(join(dir, "m.gguf"), "weights B");
    expect(runCli(["run", "exp.yaml", "--phase", "prompts"], dir).code).toBe(0);
    expect(trials()).toHaveLength(2);
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, "m.gguf"), later, later);
    expect(runCli(["run", "exp.yaml", "--phase", "prompts"], dir).code).toBe(0);
    expect(trials()).toHaveLength(2);
    writeFileSync(join(dir, "m.gguf"), "weights A");
    expect(runCli(["run", "exp.yaml", "--phase", "prompts"], dir).code).toBe(0);
    expect(trials()).toContain(first);
    expect(trials()).toHaveLength(2);
  });

  it("cached answers are priced at the current price from their stored usage", () => {
    const dir = testdir({ "data.jsonl": qaRows(2) });
    writeScript(dir, "model.sh", "1", [1_000_000, 500_000]);
    const withPrice = (input: number, output: number) =>
      experiment(
        `  - {id: m, provider: command, model: model.sh, price: {input: ${input}, output: ${output}}}`,
      );
    writeFileSync(join(dir, "exp.yaml"), withPrice(1, 2));
    expect(runCli(["run", "exp.yaml", "--name", "a"], dir).code).toBe(0);
    const [first] = trialDirs(join(dir, "runs/a"));
    const before = jsonl(join(dir, "runs/a", first!, "predictions.jsonl"));
    expect(before.map((p) => [p.cached, p.cost_usd])).toEqual([
      [false, 2],
      [false, 2],
    ]);

    writeFileSync(join(dir, "exp.yaml"), withPrice(3, 4));
    expect(runCli(["run", "exp.yaml", "--name", "b"], dir).code).toBe(0);
    const [second] = trialDirs(join(dir, "runs/b"));
    const after = jsonl(join(dir, "runs/b", second!, "predictions.jsonl"));
    expect(after.map((p) => [p.cached, p.cost_usd])).toEqual([
      [true, 5],
      [true, 5],
    ]);
  });
});
