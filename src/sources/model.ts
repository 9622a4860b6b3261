/**
 * Model files named by hub id: `hf:owner/repo[@revision]/path/to/file.gguf`, downloaded once into
 * the cache (with progress) and identified by the sha256 the hub lists for it.
 */
import { BenchlineError } from "../core/index.js";
import { checkRepoName, ensureFile, type HubSettings, resolveSnapshot } from "./hub.js";

export interface HubModelFile {
  /** The file on disk (in the cache). */
  path: string;
  /** Its sha256 (checked on download). */
  sha256: string;
  /** The commit it came from. */
  sha: string;
}

/** Whether a model spec's file part names a hub file. */
export function isHubModel(model: string | undefined): boolean {
  return model?.startsWith("hf:") === true;
}

/** Resolves and downloads (once) a hub model file; errors name `where`. */
export async function fetchHubModel(model: string, s: HubSettings, where: string): Promise<HubModelFile> {
  const parts = model.slice(3).split("/");
  const [owner, repoPart, ...rest] = parts;
  const file = rest.join("/");
  if (!owner || !repoPart || !file)
    throw new BenchlineError(
      "config",
      `${where}: "${model}": a hub model is hf:<owner>/<repo>/<file> (e.g. hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf)`,
    );
  const at = repoPart.indexOf("@");
  const name = `${owner}/${at === -1 ? repoPart : repoPart.slice(0, at)}`;
  const revision = at === -1 ? "main" : repoPart.slice(at + 1);
  checkRepoName(name, where);
  const snapshot = await resolveSnapshot({ kind: "models", name }, revision, s);
  const entry = snapshot.files.find((f) => f.path === file);
  if (!entry) {
    const near = snapshot.files.filter((f) => f.path.endsWith(".gguf")).map((f) => f.path);
    throw new BenchlineError(
      "not_found",
      `${where}: hf:${name}@${snapshot.sha.slice(0, 12)} has no file "${file}"${near.length > 0 ? ` (GGUF files: ${near.slice(0, 8).join(", ")}${near.length > 8 ? ", …" : ""})` : ""}`,
    );
  }
  if (!entry.hash.startsWith("sha256:"))
    throw new BenchlineError("input", `${where}: hf:${name}/${file} is not an LFS file (no sha256 listed)`);
  return { path: await ensureFile(snapshot, entry, s), sha256: entry.hash.slice(7), sha: snapshot.sha };
}
