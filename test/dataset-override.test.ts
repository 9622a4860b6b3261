import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HubServer, hubEnv, startHubServer } from "../src/sources/test-utils/hub-server.js";
import { runCliAsync, testdir } from "./helpers.js";

const jsonl = (rows: object[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join("");
const qa = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    question: `${prefix} ${i}?`,
    answer: String(i),
  }));
const trials = (dir: string, name: string) =>
  readdirSync(join(dir, "runs", name))
    .filter((d) => d.includes("__"))
    .sort();
const ids = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).id as string);

/** An experiment under conf/ whose own dataset (conf/data.jsonl) has items f0..f2. */
const experiment = () =>
  testdir({
    "conf/exp.yaml": `
name: over
task: qa
dataset: data.jsonl
models: [gold]
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
`,
    "conf/data.jsonl": qa(3, "f"),
    "local/other.jsonl": qa(5, "o"),
  });

// Several CLI runs per test: generous on a loaded 2-core machine.
describe("--dataset overrides the experiment's dataset:", { timeout: 240_000 }, () => {
  let hub: HubServer;
  beforeAll(async () => {
    hub = await startHubServer();
  });
  afterAll(async () => {
    await hub.close();
  });
  const env = (dir: string, extra: Record<string, string> = {}) => hubEnv(hub.url, dir, extra);

  it("run: a local path relative to the working directory, not to the experiment file; a new trial", async () => {
    const dir = experiment();
    const own = await runCliAsync(["run", "conf/exp.yaml"], dir, env(dir));
    expect(own.code, own.stderr).toBe(0);
    const r = await runCliAsync(["run", "conf/exp.yaml", "--dataset", "local/other.jsonl"], dir, env(dir));
    expect(r.code, r.stderr).toBe(0);
    const both = trials(dir, "over");
    expect(both).toHaveLength(2);
    const fresh = both
      .map((t) => join(dir, "runs/over", t))
      .find((t) => ids(join(t, "prompts.jsonl"))[0] === "o0")!;
    expect(ids(join(fresh, "prompts.jsonl"))).toEqual(["o0", "o1", "o2", "o3", "o4"]);
    const summary = JSON.parse(readFileSync(join(fresh, "summary.json"), "utf8"));
    expect(summary.items).toBe(5);
    expect(summary.mean_score).toBe(1);
    const manifest = JSON.parse(readFileSync(join(dir, "runs/over/experiment.json"), "utf8"));
    expect(manifest.dataset.path).toBe(join(dir, "local/other.jsonl"));
    expect(manifest.dataset.rows).toBe(5);
  });

  it("run: a bare owner/name that is no path is a hub id (and @rev pins a revision)", async () => {
    const first = hub.push("datasets", "acme/override", { "test.jsonl": jsonl(qa(4, "h")) });
    hub.push("datasets", "acme/override", { "test.jsonl": jsonl(qa(6, "h")) });
    const dir = experiment();
    const r = await runCliAsync(["run", "conf/exp.yaml", "--dataset", "acme/override"], dir, env(dir));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("downloading hf:acme/override/test.jsonl");
    const [trial] = trials(dir, "over");
    expect(ids(join(dir, "runs/over", trial!, "prompts.jsonl"))).toHaveLength(6);
    const manifest = JSON.parse(readFileSync(join(dir, "runs/over/experiment.json"), "utf8"));
    expect(manifest.dataset.path).toBe("hf:acme/override[test]");

    // hf: with a revision: the first commit, its own trial.
    const pinned = await runCliAsync(
      ["run", "conf/exp.yaml", "--dataset", `hf:acme/override@${first}`],
      dir,
      env(dir),
    );
    expect(pinned.code, pinned.stderr).toBe(0);
    const after = trials(dir, "over");
    expect(after).toHaveLength(2);
    const old = after.find((t) => t !== trial)!;
    expect(ids(join(dir, "runs/over", old, "prompts.jsonl"))).toEqual(["h0", "h1", "h2", "h3"]);
    const spec = JSON.parse(readFileSync(join(dir, "runs/over", old, "trial.json"), "utf8")).spec;
    expect(spec.dataset.hub.sha).toBe(first);
  });

  it("a missing file is named; a malformed hub id names --dataset; both exit 2 before writing", async () => {
    const dir = experiment();
    const missing = await runCliAsync(
      ["run", "conf/exp.yaml", "--dataset", "local/nope.jsonl"],
      dir,
      env(dir),
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.jsonl");
    const bad = await runCliAsync(["run", "conf/exp.yaml", "--dataset", "hf:acme/x@"], dir, env(dir));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--dataset");
    expect(readdirSync(dir).sort()).toEqual(["conf", "local"]);
  });

  it("export and import read the overriding dataset", async () => {
    const dir = experiment();
    const exported = await runCliAsync(
      ["export", "conf/exp.yaml", "--dataset", "local/other.jsonl", "-o", "prompts.jsonl"],
      dir,
      env(dir),
    );
    expect(exported.code, exported.stderr).toBe(0);
    expect(ids(join(dir, "prompts.jsonl"))).toEqual(["o0", "o1", "o2", "o3", "o4"]);
    writeFileSync(
      join(dir, "answers.jsonl"),
      jsonl(qa(5, "o").map((r, i) => ({ id: r.id, completion: i < 3 ? r.answer : "wrong" }))),
    );
    const imported = await runCliAsync(
      ["import", "conf/exp.yaml", "--dataset", "local/other.jsonl", "--responses", "answers.jsonl"],
      dir,
      env(dir),
    );
    expect(imported.code, imported.stderr).toBe(0);
    const [trial] = trials(dir, "over");
    const summary = JSON.parse(readFileSync(join(dir, "runs/over", trial!, "summary.json"), "utf8"));
    expect(summary.items).toBe(5);
    expect(summary.mean_score).toBe(0.6);
  });
});
