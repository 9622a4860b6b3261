import { describe, expect, it } from "vitest";
import { selectSplit } from "./data-files.js";
import type { HubFile, Snapshot } from "./hub.js";

const file = (path: string): HubFile => ({ path, size: 1, hash: "git:0" });
const snapshot = (paths: string[], card?: unknown): Snapshot => ({
  repo: { kind: "datasets", name: "o/n" },
  sha: "a".repeat(40),
  revision: "main",
  files: paths.map(file),
  ...(card !== undefined ? { card } : {}),
});
const paths = (s: ReturnType<typeof selectSplit>) => s.files.map((f) => f.path);

describe("selectSplit: which files make a config's split", () => {
  it("finds splits in file and folder names, ignoring other files", () => {
    const s = snapshot([
      ".gitattributes",
      "README.md",
      "data/train-00000-of-00002.parquet",
      "data/train-00001-of-00002.parquet",
      "data/validation-00000-of-00001.parquet",
      "eval/part.jsonl.gz",
    ]);
    expect(paths(selectSplit(s, { split: "train" }, "hf:o/n"))).toEqual([
      "data/train-00000-of-00002.parquet",
      "data/train-00001-of-00002.parquet",
    ]);
    expect(paths(selectSplit(s, { split: "test" }, "hf:o/n"))).toEqual(["eval/part.jsonl.gz"]);
    expect(() => selectSplit(s, {}, "hf:o/n")).toThrow(
      'hf:o/n: config "default" has several splits; choose one with dataset.split (splits: train, validation, test)',
    );
  });

  it("calls every data file train when no name says a split, and that split is the default", () => {
    const s = snapshot(["rows.jsonl", "more/rows2.csv", "notes.txt"]);
    expect(selectSplit(s, {}, "x")).toEqual({
      config: "default",
      split: "train",
      files: [file("rows.jsonl"), file("more/rows2.csv")],
    });
  });

  it("follows the card's configs: data_files per split, data_dir, the default config", () => {
    const card = {
      configs: [
        { config_name: "a", data_files: [{ split: "test", path: ["a/*.parquet"] }] },
        { config_name: "b", data_dir: "b", default: true, data_files: { test: "t-*.csv", train: "x.csv" } },
        { config_name: "c", data_files: "c/**" },
      ],
    };
    const s = snapshot(["a/1.parquet", "b/t-1.csv", "b/x.csv", "c/deep/r.jsonl"], card);
    expect(paths(selectSplit(s, { config: "a" }, "x"))).toEqual(["a/1.parquet"]);
    expect(selectSplit(s, { split: "test" }, "x")).toMatchObject({ config: "b", files: [file("b/t-1.csv")] });
    expect(selectSplit(s, { config: "c" }, "x")).toMatchObject({
      split: "train",
      files: [file("c/deep/r.jsonl")],
    });
    expect(() => selectSplit(s, { config: "z" }, "x")).toThrow('x: no config "z" (configs: a, b, c)');
  });

  it("refuses a config the card does not declare and a split without files", () => {
    expect(() => selectSplit(snapshot(["test.jsonl"]), { config: "main" }, "x")).toThrow(
      'x: no config "main" (the dataset card declares no configs: its only config is "default")',
    );
    expect(() => selectSplit(snapshot(["README.md"]), {}, "x")).toThrow("x: no data files");
  });

  it("reads the hub's Parquet conversion (refs/convert/parquet) as <config>/<split>/ folders", () => {
    const s = {
      ...snapshot([
        "main/test/0000.parquet",
        "main/train/0000.parquet",
        "socratic/test/0000.parquet",
        "socratic/partial-train/0000.parquet",
      ]),
      revision: "refs/convert/parquet",
    };
    expect(selectSplit(s, { config: "socratic", split: "train" }, "x")).toMatchObject({
      config: "socratic",
      files: [file("socratic/partial-train/0000.parquet")],
    });
    expect(() => selectSplit(s, { split: "test" }, "x")).toThrow(
      "x: several configs; choose one with dataset.config (configs: main, socratic)",
    );
    // On a branch, the same layout is one config whose splits are found in the names.
    expect(paths(selectSplit({ ...s, revision: "main" }, { split: "test" }, "x"))).toEqual([
      "main/test/0000.parquet",
      "socratic/test/0000.parquet",
    ]);
  });
});
