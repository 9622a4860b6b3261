/**
 * The Hugging Face hub: a repository's revision resolved to a commit, its file listing, and files
 * downloaded once into the cache, checked against the hashes the hub lists (sha256 for LFS
 * files, the git blob id otherwise). Listing and revision go through `@huggingface/hub`; files
 * are streamed to disk here (the library returns a whole file as one in-memory Blob).
 *
 * Cache: `<cacheDir>/hub/<datasets|models>/<owner>--<name>/` holds `refs/<revision>` (the commit a
 * branch or tag resolved to when last online) and `<commit>/snapshot.json` (the listing) with the
 * downloaded files under `<commit>/files/`. Offline, only the cache is read.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ListFileEntry } from "@huggingface/hub";
import { BenchlineError } from "../core/index.js";
import { writeFileAtomic } from "./files.js";

export interface HubSettings {
  /** `HF_ENDPOINT` (a mirror), else https://huggingface.co. */
  endpoint: string;
  /** `HF_TOKEN`: sent to the endpoint only, never written or printed. */
  token?: string;
  /** Use the cache only (`HF_HUB_OFFLINE=1` or `--offline`). */
  offline: boolean;
  /** `BENCHLINE_CACHE_DIR`, else `$XDG_CACHE_HOME/benchline`, else `~/.cache/benchline`. */
  cacheDir: string;
  /** Download progress (the CLI prints it). */
  onProgress?: (progress: DownloadProgress) => void;
}

export interface DownloadProgress {
  /** `hf:owner/name/path` of the file. */
  file: string;
  received: number;
  total: number;
  done: boolean;
}

export type RepoKind = "datasets" | "models";

export interface HubRepo {
  kind: RepoKind;
  /** `owner/name`. */
  name: string;
}

/** A file of a snapshot: its path in the repository, size and content hash. */
export interface HubFile {
  path: string;
  size: number;
  /** `sha256:<hex>` for LFS files, `git:<blob id>` otherwise. */
  hash: string;
}

/** A repository at one commit: what the hub listed (kept in the cache for offline runs). */
export interface Snapshot {
  repo: HubRepo;
  /** The commit the revision resolved to. */
  sha: string;
  /** The revision as asked for (`main`, a tag, a commit). */
  revision: string;
  files: HubFile[];
  /** The dataset card's YAML header (its `configs:`), when the hub sent one. */
  card?: unknown;
}

const TRUTHY = new Set(["1", "true", "yes", "on"]);

/** Hub settings from the environment; `offline` (a flag) adds to `HF_HUB_OFFLINE`. */
export function hubSettings(
  env: Record<string, string | undefined>,
  options: { offline?: boolean; onProgress?: (p: DownloadProgress) => void } = {},
): HubSettings {
  const base = env.XDG_CACHE_HOME?.trim() ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  const token = env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim();
  return {
    endpoint: (env.HF_ENDPOINT?.trim() || "https://huggingface.co").replace(/\/+$/, ""),
    ...(token ? { token } : {}),
    offline: options.offline === true || TRUTHY.has((env.HF_HUB_OFFLINE ?? "").trim().toLowerCase()),
    cacheDir: env.BENCHLINE_CACHE_DIR?.trim() || join(base, "benchline"),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
}

/** `owner/name`: letters, digits, `-`, `_`, `.`; no `..`. */
export function checkRepoName(name: string, where: string): void {
  if (!/^[\w.-]+\/[\w.-]+$/.test(name) || name.split("/").some((p) => p === "." || p === ".."))
    throw new BenchlineError("config", `${where}: "${name}" is not a hub repository (owner/name)`);
}

const COMMIT = /^[0-9a-f]{40}$/;

/**
 * The repository at `revision`: from the cache when offline (or when the revision is a commit
 * already listed), else asked of the hub, and the answer cached.
 */
export async function resolveSnapshot(repo: HubRepo, revision: string, s: HubSettings): Promise<Snapshot> {
  const dir = repoDir(repo, s);
  const refFile = join(dir, "refs", encodeURIComponent(revision));
  const cachedSha = COMMIT.test(revision) ? revision : readText(refFile);
  if (cachedSha !== undefined && (s.offline || COMMIT.test(revision))) {
    const snapshot = readSnapshot(join(dir, cachedSha, "snapshot.json"));
    if (snapshot) return { ...snapshot, revision };
  }
  if (s.offline)
    throw new BenchlineError(
      "not_found",
      `hf:${repo.name}@${revision}: not in the cache (${dir}) and offline (HF_HUB_OFFLINE / --offline): run once online first`,
    );
  const label = `hf:${repo.name}`;
  // The token goes in a header of our own (the library would refuse one not starting "hf_", as a
  // mirror's may not).
  const common = { hubUrl: s.endpoint, fetch: authorizedFetch(s) };
  // Loaded on the first hub call, not at start-up (issue 15).
  const { datasetInfo, listFiles, modelInfo } = await import("@huggingface/hub");
  const info = await hubCall(label, s, () =>
    repo.kind === "datasets"
      ? datasetInfo({ name: repo.name, revision, additionalFields: ["sha", "cardData"], ...common })
      : modelInfo({ name: repo.name, revision, additionalFields: ["sha"], ...common }),
  );
  const sha = (info as { sha?: unknown }).sha;
  if (typeof sha !== "string" || !COMMIT.test(sha))
    throw new BenchlineError("input", `${label}@${revision}: the hub did not say which commit it is`);
  const files: HubFile[] = [];
  await hubCall(label, s, async () => {
    const type = repo.kind === "datasets" ? "dataset" : "model";
    for await (const entry of listFiles({
      repo: { type, name: repo.name },
      revision: sha,
      recursive: true,
      ...common,
    }))
      if (entry.type === "file") files.push(fileOf(entry));
  });
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const card = (info as { cardData?: unknown }).cardData;
  const snapshot: Snapshot = { repo, sha, revision, files, ...(card !== undefined ? { card } : {}) };
  writeFileAtomic(join(dir, sha, "snapshot.json"), JSON.stringify(snapshot));
  writeFileAtomic(refFile, sha);
  return snapshot;
}

/**
 * A file of a snapshot on disk: downloaded once (streamed to a temporary file, its hash checked,
 * then renamed into place), afterwards read from the cache.
 */
export async function ensureFile(snapshot: Snapshot, file: HubFile, s: HubSettings): Promise<string> {
  const { repo } = snapshot;
  const parts = file.path.split("/");
  // A listing names files inside the repository: a path that would leave it is refused.
  if (parts.some((p) => p === "" || p === "." || p === ".." || p.includes("\\")))
    throw new BenchlineError("input", `hf:${repo.name}: the hub listed an unsafe file path "${file.path}"`);
  const dest = join(repoDir(repo, s), snapshot.sha, "files", ...parts);
  if (existsSync(dest) && statSync(dest).size === file.size) return dest;
  const label = `hf:${repo.name}/${file.path}`;
  if (s.offline)
    throw new BenchlineError(
      "not_found",
      `${label}@${snapshot.sha.slice(0, 12)}: not in the cache and offline (HF_HUB_OFFLINE / --offline)`,
    );
  const prefix = repo.kind === "datasets" ? "datasets/" : "";
  const url = `${s.endpoint}/${prefix}${repo.name}/resolve/${snapshot.sha}/${file.path.split("/").map(encodeURIComponent).join("/")}`;
  const response = await hubCall(label, s, async () => {
    const r = await authorizedFetch(s)(url);
    if (!r.ok || !r.body) throw Object.assign(new Error(`status ${r.status}`), { statusCode: r.status });
    return r;
  });
  mkdirSync(dirname(dest), { recursive: true });
  const part = `${dest}.${process.pid}-${randomBytes(4).toString("hex")}.part`;
  const [algorithm, expected] = splitHash(file.hash);
  const hash = createHash(algorithm);
  if (algorithm === "sha1") hash.update(`blob ${file.size}\0`);
  let received = 0;
  let reported = 0;
  const report = (done: boolean) => s.onProgress?.({ file: label, received, total: file.size, done });
  try {
    await pipeline(
      Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          received += chunk.length;
          if (received - reported >= Math.max(1 << 20, file.size / 100)) {
            reported = received;
            report(false);
          }
          yield chunk;
        }
      },
      createWriteStream(part),
    );
    const got = hash.digest("hex");
    if (received !== file.size || got !== expected)
      throw new BenchlineError(
        "input",
        `${label}: downloaded ${received} bytes with ${algorithm} ${got.slice(0, 12)}…, the hub lists ${file.size} bytes with ${expected.slice(0, 12)}… (a broken mirror or transfer; run again)`,
      );
    renameSync(part, dest);
  } catch (error) {
    rmSync(part, { force: true });
    if (error instanceof BenchlineError) throw error;
    throw new BenchlineError("input", `${label}: download failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  report(true);
  return dest;
}

/** The cache directory of a repository. */
export function repoDir(repo: HubRepo, s: HubSettings): string {
  return join(s.cacheDir, "hub", repo.kind, repo.name.replace("/", "--"));
}

// ─── internal helpers ──────────────────────────────────────────────────────────────────────

function authorizedFetch(s: HubSettings): typeof fetch {
  if (!s.token) return fetch;
  const authorization = `Bearer ${s.token}`;
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", authorization);
    return fetch(input, { ...init, headers });
  };
}

function fileOf(entry: ListFileEntry): HubFile {
  const hash = entry.lfs ? `sha256:${entry.lfs.oid}` : `git:${entry.oid ?? ""}`;
  return { path: entry.path, size: entry.lfs?.size ?? entry.size, hash };
}

function splitHash(hash: string): ["sha256" | "sha1", string] {
  return hash.startsWith("sha256:") ? ["sha256", hash.slice(7)] : ["sha1", hash.slice(4)];
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

function readSnapshot(path: string): Snapshot | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Snapshot;
  } catch {
    return undefined;
  }
}

/** Hub and network failures as one-line errors that say what to do (never the token). */
async function hubCall<T>(label: string, s: HubSettings, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof BenchlineError) throw error;
    const status = (error as { statusCode?: unknown }).statusCode;
    if (status === 401 || status === 403)
      throw new BenchlineError(
        "input",
        `${label}: the hub refused access (HTTP ${status}): a gated or private repository needs HF_TOKEN${s.token ? " with access to it" : ""}`,
        { cause: error },
      );
    if (status === 404)
      throw new BenchlineError("not_found", `${label}: not found on ${s.endpoint} (HTTP 404)`, {
        cause: error,
      });
    if (typeof status === "number")
      throw new BenchlineError("input", `${label}: ${s.endpoint} answered HTTP ${status}`, { cause: error });
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new BenchlineError(
      "input",
      `${label}: cannot reach ${s.endpoint} (${cause?.code ?? cause?.message ?? (error as Error).message}); HF_HUB_OFFLINE=1 or --offline uses the cache`,
      { cause: error },
    );
  }
}
