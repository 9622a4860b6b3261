/**
 * Datasets named by hub id: `hf:owner/name[@revision]`, or `{hf: owner/name, config, split,
 * revision}`. The split's files are downloaded into the cache and, unless the split is one JSON
 * Lines file, turned into one there; the pipeline streams that file like a local dataset.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { BenchlineError, sha256, stableStringify } from "../core/index.js";
import { selectSplit } from "./data-files.js";
import { checkRepoName, ensureFile, type HubSettings, repoDir, resolveSnapshot } from "./hub.js";
import { formatOf, writeRowsJsonl } from "./rows.js";

export interface HubDatasetRef {
  hf: string;
  config?: string | undefined;
  split?: string | undefined;
  revision?: string | undefined;
}

/** A hub dataset on disk: the JSON Lines file to stream and what identifies its content. */
export interface HubDataset {
  /** The JSON Lines file the rows are read from (in the cache). */
  path: string;
  /** `hf:owner/name[config/split]`, for messages. */
  label: string;
  /** sha256 of the repository, resolved commit, config, split and the files' hashes. */
  sha256: string;
  source: { hf: string; revision: string; sha: string; config: string; split: string; files: string[] };
}

/** Whether a `dataset:` value names a hub dataset rather than a local file. */
export function isHubDataset(value: unknown): boolean {
  return typeof value === "object" || (typeof value === "string" && value.startsWith("hf:"));
}

/** `hf:owner/name@rev` or the object form, checked (errors name `where`). */
export function parseHubDatasetRef(value: string | HubDatasetRef, where: string): HubDatasetRef {
  const ref: HubDatasetRef =
    typeof value === "string"
      ? refFromString(value.slice(3), where)
      : { ...value, hf: value.hf.replace(/^hf:/, "") };
  checkRepoName(ref.hf, where);
  return ref;
}

/** Resolves, downloads (once) and prepares a hub dataset's split. */
export async function openHubDataset(ref: HubDatasetRef, s: HubSettings): Promise<HubDataset> {
  const repo = { kind: "datasets" as const, name: ref.hf };
  const revision = ref.revision ?? "main";
  const snapshot = await resolveSnapshot(repo, revision, s);
  const base = `hf:${ref.hf}`;
  const chosen = selectSplit(
    snapshot,
    {
      ...(ref.config !== undefined ? { config: ref.config } : {}),
      ...(ref.split !== undefined ? { split: ref.split } : {}),
    },
    base,
  );
  const label = `${base}[${chosen.config === "default" ? "" : `${chosen.config}/`}${chosen.split}]`;
  const local = [];
  for (const file of chosen.files)
    local.push({ path: await ensureFile(snapshot, file, s), label: `${base}/${file.path}` });
  const identity = {
    hf: ref.hf,
    sha: snapshot.sha,
    config: chosen.config,
    split: chosen.split,
    files: chosen.files.map((f) => [f.path, f.hash]),
  };
  const hash = sha256(stableStringify(identity));
  const [only] = local;
  let path: string;
  if (local.length === 1 && only && formatOf(only.path) === "jsonl") path = only.path;
  else {
    path = join(repoDir(repo, s), snapshot.sha, "rows", `${hash.slice(0, 16)}.jsonl`);
    if (!existsAsFile(path)) await writeRowsJsonl(local, path);
  }
  return {
    path,
    label,
    sha256: hash,
    source: {
      hf: ref.hf,
      revision,
      sha: snapshot.sha,
      config: chosen.config,
      split: chosen.split,
      files: chosen.files.map((f) => f.path),
    },
  };
}

// ─── internal helpers ──────────────────────────────────────────────────────────────────────

function refFromString(text: string, where: string): HubDatasetRef {
  const at = text.indexOf("@");
  if (at === -1) return { hf: text };
  const revision = text.slice(at + 1);
  if (!revision) throw new BenchlineError("config", `${where}: "hf:${text}": nothing after "@" (a revision)`);
  return { hf: text.slice(0, at), revision };
}

function existsAsFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
