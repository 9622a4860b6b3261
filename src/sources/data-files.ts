/**
 * Which files of a dataset repository make a config's split, as the hub's `datasets` library
 * decides it: the card's `configs:` (`data_files` patterns per split, `data_dir`), else split
 * names in file and folder names (`train`, `validation`/`dev`/`valid`/`val`, `test`/`eval`),
 * else every data file is `train`. Pure: a snapshot's listing in, files out.
 */
import picomatch from "picomatch";
import { BenchlineError } from "../core/index.js";
import type { HubFile, Snapshot } from "./hub.js";

/** Data files benchline reads (`.gz` of the text ones too). */
export const DATA_EXTENSIONS = [".parquet", ".jsonl", ".json", ".csv", ".tsv"];

export interface SplitFiles {
  config: string;
  split: string;
  files: HubFile[];
}

const SPLIT_WORDS: Record<string, string[]> = {
  train: ["train", "training"],
  validation: ["validation", "valid", "dev", "val"],
  test: ["test", "testing", "eval", "evaluation"],
};

export function isDataFile(path: string): boolean {
  const name = path.toLowerCase().replace(/\.gz$/, "");
  if (path.split("/").some((part) => part.startsWith("."))) return false;
  return DATA_EXTENSIONS.some((ext) => name.endsWith(ext));
}

/** The files of `config`/`split` (each defaulted when the dataset has only one), in path order. */
export function selectSplit(
  snapshot: Snapshot,
  wanted: { config?: string; split?: string },
  label: string,
): SplitFiles {
  const configs = cardConfigs(snapshot.card, label);
  let config: string;
  let splits: Map<string, HubFile[]>;
  if (configs.length > 0) {
    const chosen = wanted.config
      ? configs.find((c) => c.name === wanted.config)
      : (configs.find((c) => c.default) ?? (configs.length === 1 ? configs[0] : undefined));
    if (!chosen)
      throw new BenchlineError(
        "config",
        `${label}: ${wanted.config ? `no config "${wanted.config}"` : "several configs and none is the default; choose one with dataset.config"} (configs: ${configs.map((c) => c.name).join(", ")})`,
      );
    config = chosen.name;
    splits = new Map(
      [...chosen.splits].map(([split, patterns]) => [split, matchFiles(snapshot.files, patterns)] as const),
    );
  } else {
    const data = snapshot.files.filter((f) => isDataFile(f.path));
    const converted = snapshot.revision.startsWith("refs/convert/") ? convertedLayout(data) : undefined;
    if (converted) {
      // The hub's Parquet conversion (revision refs/convert/parquet): <config>/<split>/NNNN.parquet.
      const names = [...converted.keys()];
      const chosen =
        wanted.config ?? (names.length === 1 ? names[0] : names.includes("default") ? "default" : undefined);
      if (chosen === undefined || !converted.has(chosen))
        throw new BenchlineError(
          "config",
          `${label}: ${chosen === undefined ? "several configs; choose one with dataset.config" : `no config "${chosen}"`} (configs: ${names.join(", ")})`,
        );
      config = chosen;
      splits = converted.get(chosen) as Map<string, HubFile[]>;
    } else {
      if (wanted.config !== undefined && wanted.config !== "default")
        throw new BenchlineError(
          "config",
          `${label}: no config "${wanted.config}" (the dataset card declares no configs: its only config is "default")`,
        );
      config = "default";
      splits = inferSplits(data);
    }
  }
  const names = [...splits.keys()].filter((s) => (splits.get(s) ?? []).length > 0);
  if (names.length === 0)
    throw new BenchlineError(
      "input",
      `${label}: no data files (${DATA_EXTENSIONS.join(", ")}) in config "${config}" at ${snapshot.sha.slice(0, 12)}`,
    );
  const split = wanted.split ?? (names.length === 1 ? names[0] : undefined);
  if (split === undefined)
    throw new BenchlineError(
      "config",
      `${label}: config "${config}" has several splits; choose one with dataset.split (splits: ${names.join(", ")})`,
    );
  const files = splits.get(split);
  if (!files || files.length === 0)
    throw new BenchlineError(
      "config",
      `${label}: config "${config}" has no split "${split}" (splits: ${names.join(", ")})`,
    );
  const unreadable = files.find((f) => !isDataFile(f.path));
  if (unreadable)
    throw new BenchlineError(
      "input",
      `${label}: ${unreadable.path}: not a format benchline reads (${DATA_EXTENSIONS.join(", ")})`,
    );
  return { config, split, files };
}

// ─── internal helpers ──────────────────────────────────────────────────────────────────────

interface CardConfig {
  name: string;
  default: boolean;
  /** split → glob patterns. */
  splits: Map<string, string[]>;
}

function cardConfigs(card: unknown, label: string): CardConfig[] {
  const list = (card as { configs?: unknown } | undefined)?.configs;
  if (!Array.isArray(list)) return [];
  return list.map((entry, i) => {
    const c = entry as { config_name?: unknown; data_files?: unknown; data_dir?: unknown; default?: unknown };
    const name = typeof c.config_name === "string" ? c.config_name : "default";
    const dir = typeof c.data_dir === "string" ? c.data_dir.replace(/\/+$/, "") : undefined;
    const prefix = (p: string) => (dir ? `${dir}/${p}` : p);
    const splits = new Map<string, string[]>();
    const add = (split: string, value: unknown) => {
      const patterns = typeof value === "string" ? [value] : Array.isArray(value) ? value : undefined;
      if (!patterns?.every((p) => typeof p === "string"))
        throw new BenchlineError("input", `${label}: dataset card: configs[${i}].data_files is malformed`);
      splits.set(split, [...(splits.get(split) ?? []), ...patterns.map(prefix)]);
    };
    const files = c.data_files ?? (dir ? "**" : undefined);
    if (typeof files === "string" || (Array.isArray(files) && files.every((f) => typeof f === "string")))
      add("train", files);
    else if (Array.isArray(files))
      for (const f of files as { split?: unknown; path?: unknown }[]) add(String(f.split ?? "train"), f.path);
    else if (files && typeof files === "object")
      for (const [split, value] of Object.entries(files)) add(split, value);
    return { name, default: c.default === true, splits };
  });
}

function matchFiles(files: HubFile[], patterns: string[]): HubFile[] {
  const matchers = patterns.map((p) => picomatch(p, { dot: false }));
  return files.filter((f) => matchers.some((m) => m(f.path)));
}

/** `<config>/<split>/<file>.parquet` for every file (the hub's Parquet conversion), else undefined. */
function convertedLayout(files: HubFile[]): Map<string, Map<string, HubFile[]>> | undefined {
  if (files.length === 0) return undefined;
  const configs = new Map<string, Map<string, HubFile[]>>();
  for (const file of files) {
    const m = /^([^/]+)\/(?:partial-)?([^/]+)\/[^/]+\.parquet$/.exec(file.path);
    if (!m) return undefined;
    const [, config, split] = m as unknown as [string, string, string];
    const splits = configs.get(config) ?? new Map<string, HubFile[]>();
    splits.set(split, [...(splits.get(split) ?? []), file]);
    configs.set(config, splits);
  }
  return configs;
}

/** Split names in a file's path: `data/test-00000-of-00001.parquet` is `test`. */
function inferSplits(files: HubFile[]): Map<string, HubFile[]> {
  const splits = new Map<string, HubFile[]>();
  for (const file of files) {
    const words = new Set(file.path.toLowerCase().split(/[^a-z]+/));
    const split = Object.entries(SPLIT_WORDS).find(([, names]) => names.some((n) => words.has(n)))?.[0];
    if (split) splits.set(split, [...(splits.get(split) ?? []), file]);
  }
  return splits.size > 0 ? splits : new Map([["train", files]]);
}
