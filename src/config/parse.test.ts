import { describe, expect, it } from "vitest";
import { BenchlineError } from "../core/index.js";
import { modelSpecFromEntry, parseDatasetArg, parseExperimentText } from "./parse.js";
import { expandTrials, slug } from "./trials.js";

const valid = `
name: demo
task: qa
dataset: data.jsonl
models: [gold, {provider: openai, model: gpt-4o-mini, temperature: 0.2}]
prompts:
  plain: {user: "{{question}}"}
`;

function errorOf(text: string): string {
  try {
    parseExperimentText(text, "exp.yaml");
  } catch (error) {
    expect(error).toBeInstanceOf(BenchlineError);
    return (error as Error).message;
  }
  throw new Error("expected an error");
}

describe("parseExperimentText", () => {
  it("applies defaults", () => {
    const file = parseExperimentText(valid, "exp.yaml");
    expect(file.samples).toBe(1);
    expect(file.concurrency).toBe(8);
  });

  it("names the file and the field path of a wrong type", () => {
    const text = valid.replace("temperature: 0.2", 'temperature: "hot"');
    expect(errorOf(text)).toMatch(/^exp\.yaml: models\[1\]\.temperature: expected number/);
  });

  it("rejects unknown fields, naming them", () => {
    expect(errorOf(`${valid}\nsampels: 3\n`)).toMatch(/^exp\.yaml: unknown field "sampels"/);
    expect(errorOf(valid.replace("temperature: 0.2", "temprature: 0.2"))).toMatch(/models\[1\]/);
  });

  it("reports malformed YAML with its line", () => {
    expect(errorOf("name: x\ntask: [qa\n")).toMatch(/^exp\.yaml:\d+:\d+: invalid YAML/);
  });

  it("rejects a top level that is not a mapping", () => {
    expect(errorOf("- a\n- b\n")).toMatch(/expected a mapping/);
  });

  it("accepts JSON", () => {
    const file = parseExperimentText(
      JSON.stringify({ name: "j", task: "qa", dataset: "d.jsonl", models: ["echo"] }),
      "exp.json",
    );
    expect(file.models).toEqual(["echo"]);
  });
});

describe("modelSpecFromEntry", () => {
  it("splits a spec string on the first colon only", () => {
    expect(modelSpecFromEntry("ollama:llama3.1:8b")).toMatchObject({
      id: "ollama:llama3.1:8b",
      provider: "ollama",
      model: "llama3.1:8b",
    });
    expect(modelSpecFromEntry("gold")).toEqual({ id: "gold", provider: "gold", params: {}, options: {} });
  });

  it("separates sampling params from provider options", () => {
    const spec = modelSpecFromEntry({
      provider: "openai",
      model: "m",
      temperature: 0,
      base_url: "http://x",
      timeout: 5,
    });
    expect(spec).toEqual({
      id: "openai:m",
      provider: "openai",
      model: "m",
      params: { temperature: 0 },
      options: { base_url: "http://x", timeout: 5 },
    });
  });
});

describe("expandTrials", () => {
  const base = {
    task: { name: "qa", options: {} },
    dataset: { path: "/a/data.jsonl", sha256: "abc" },
    scorers: [{ name: "exact", options: {} }],
  };
  const models = [
    modelSpecFromEntry("gold"),
    modelSpecFromEntry({ provider: "openai", model: "gpt-4o", temperature: 0 }),
  ];
  const prompts = { plain: { user: "{{question}}" }, cot: { system: "Think.", user: "{{question}}" } };

  it("crosses models and prompt sets into uniquely named directories", () => {
    const trials = expandTrials(base, models, prompts);
    expect(trials.map((t) => t.name.replace(/__[0-9a-f]{8}$/, ""))).toEqual([
      "gold__plain",
      "gold__cot",
      "openai-gpt-4o__plain",
      "openai-gpt-4o__cot",
    ]);
    expect(new Set(trials.map((t) => t.name)).size).toBe(4);
  });

  it("changes the hash when anything in the spec changes, not when only secrets or throttles do", () => {
    const [a] = expandTrials(base, [models[1]!], { plain: prompts.plain });
    const hot = expandTrials(base, [{ ...models[1]!, params: { temperature: 1 } }], {
      plain: prompts.plain,
    })[0];
    const edited = expandTrials(base, [models[1]!], { plain: { user: "Q: {{question}}" } })[0];
    const otherData = expandTrials(
      { ...base, dataset: { path: "/a/data.jsonl", sha256: "def" } },
      [models[1]!],
      { plain: prompts.plain },
    )[0];
    const moved = expandTrials({ ...base, dataset: { path: "/b/data.jsonl", sha256: "abc" } }, [models[1]!], {
      plain: prompts.plain,
    })[0];
    const throttled = expandTrials(base, [{ ...models[1]!, options: { concurrency: 3, api_key_env: "K" } }], {
      plain: prompts.plain,
    })[0];
    expect(new Set([a!.hash, hot!.hash, edited!.hash, otherData!.hash]).size).toBe(4);
    expect(moved!.hash).toBe(a!.hash);
    expect(throttled!.hash).toBe(a!.hash);
  });

  it("slugs model ids into safe directory names", () => {
    expect(slug("vllm:Qwen/Qwen2.5-7B@http://gpu:8000/v1")).toBe("vllm-qwen-qwen2.5-7b-http-gpu-8000-v1");
  });
});

describe("parseDatasetArg (--dataset)", () => {
  const none = () => false;
  it("hf: ids as written, existing paths as paths", () => {
    expect(parseDatasetArg("hf:a/b@v1", none)).toEqual({ hub: "hf:a/b@v1" });
    expect(parseDatasetArg("acme/tasks", (p) => p === "acme/tasks")).toEqual({ path: "acme/tasks" });
  });
  it("a bare owner/name[@rev] that is no path is a hub id", () => {
    expect(parseDatasetArg("deathbyknowledge/shell-tasks", none)).toEqual({
      hub: "hf:deathbyknowledge/shell-tasks",
    });
    expect(parseDatasetArg("a/b.v2@main", none)).toEqual({ hub: "hf:a/b.v2@main" });
  });
  it("anything else is a path (the reader names it when missing)", () => {
    for (const p of [
      "data/tasks.jsonl",
      "a/b.jsonl.gz",
      "./a/b",
      "/a/b",
      "a/b/c",
      "tasks",
      "~/a/b",
      "a/b.parquet",
    ])
      expect(parseDatasetArg(p, none)).toEqual({ path: p });
    expect(() => parseDatasetArg("", none)).toThrow("--dataset");
  });
});
