import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { BenchlineError, type PrepareContext, type Sample } from "../../core/index.js";
import { type Bm25Index, buildIndex, tokenize, topN } from "./bm25.js";
import { type BuiltPrompt, buildVariant, parseVariant, variantGrammar } from "./builder.js";
import { listTree, readAt, readBlobs, resolveCommit, treeOf } from "./git.js";
import { universalNewlines } from "./python-text.js";
import type { Instance } from "./records.js";

export interface CodeEditOptions {
  repos: Record<string, string>;
  variants: string[];
  test_command: string;
  log_format: "pytest" | "unittest" | "django";
  strict: boolean;
}

/** What a sample carries after `prepare`: the instance, its clone, and every variant's prompt. */
export interface PreparedInput {
  instance: Instance;
  clone?: string;
  variants: Record<string, BuiltPrompt>;
  /** docker: the image the instance's tests run in (execution.image, a template expanded). */
  image?: string;
}

/**
 * `execution.image` for one instance. `{instance_id}` becomes the id lowercased, as SWE-bench
 * names its local images (`sweb.eval.x86_64.{instance_id}`); `{instance_id_1776}` also has `__`
 * as `_1776_`, as its Docker Hub images (`swebench/sweb.eval.x86_64.{instance_id_1776}`).
 */
export function instanceImage(template: string, id: string): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (name === "instance_id") return id.toLowerCase();
    if (name === "instance_id_1776") return id.toLowerCase().replaceAll("__", "_1776_");
    throw new BenchlineError(
      "config",
      `execution.image: unknown placeholder {${name}} in ${template} (use {instance_id} or {instance_id_1776})`,
    );
  });
}

/** Files the reference's retriever never indexes (it matches these anywhere in the path). */
const SKIPPED = [".git", "__pycache__", ".venv", "venv", "env"];

const indexes = new Map<string, Promise<{ index: Bm25Index; texts: Map<string, string> }>>();
const trees = new Map<string, Promise<string>>();

/** The BM25 index of a tree's Python files, built once per (clone, tree). */
export function treeIndex(
  clone: string,
  commit: string,
): Promise<{ index: Bm25Index; texts: Map<string, string> }> {
  return (async () => {
    const treeKey = `${clone}\0${commit}`;
    if (!trees.has(treeKey)) trees.set(treeKey, treeOf(clone, commit));
    const tree = await (trees.get(treeKey) as Promise<string>);
    const key = `${clone}\0${tree}`;
    let entry = indexes.get(key);
    if (!entry) {
      entry = (async () => {
        const files = (await listTree(clone, tree)).filter(
          (f) => f.path.endsWith(".py") && !SKIPPED.some((s) => f.path.includes(s)),
        );
        const blobs = await readBlobs(
          clone,
          files.map((f) => f.sha),
        );
        const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
        const docs = files.map((f, i) => ({
          path: f.path,
          text: universalNewlines(decoder.decode(blobs[i]).replaceAll("\ufffd", "")),
        }));
        return { index: buildIndex(docs), texts: new Map(docs.map((d) => [d.path, d.text])) };
      })();
      indexes.set(key, entry);
    }
    return entry;
  })();
}

/** Reads repositories and builds every variant of every sample; errors name file, line and field. */
export async function prepareSamples(
  samples: Sample[],
  options: CodeEditOptions,
  ctx: PrepareContext,
): Promise<void> {
  const variants = ctx.promptSets.map((name) => {
    const v = parseVariant(name);
    if (!v)
      throw new BenchlineError(
        "config",
        `prompt set "${name}" is not a code-edit variant: use ${variantGrammar}`,
      );
    return v;
  });
  // docker: each instance runs in its image (a template expands per instance); every image must
  // be on the daemon before anything else happens — one error lists the missing ones.
  if (ctx.sandbox === "docker" && ctx.image !== undefined) {
    const template = ctx.image;
    for (const sample of samples)
      (sample.input as unknown as PreparedInput).image = instanceImage(template, sample.id);
    await ctx.requireImages?.(samples.map((s) => (s.input as unknown as PreparedInput).image as string));
  }
  for (const sample of samples) {
    const input = sample.input as unknown as PreparedInput;
    const { instance } = input;
    const where = `${ctx.label}:${ctx.lines.get(sample.id) ?? "?"}`;
    input.variants = {};
    if (instance.kind === "infbench") {
      const built: BuiltPrompt = {
        prompt: instance.prompt ?? "",
        split_idx: instance.split_idx ?? 0,
        num_changes: instance.steps.length,
        pre_edits: instance.pre_edits ?? [],
        ground_truth: instance.ground_truth ?? instance.patch ?? "",
        context_files: [],
      };
      for (const v of variants) input.variants[v.name] = built;
      if (instance.repo !== undefined) {
        const clone = options.repos[instance.repo];
        if (clone !== undefined) input.clone = resolve(ctx.baseDir, clone);
      }
      continue;
    }
    const repo = instance.repo as string;
    const mapped = options.repos[repo];
    if (mapped === undefined)
      throw new BenchlineError("input", `${where}: repo: "${repo}" has no local clone in task.repos`);
    const clone = resolve(ctx.baseDir, mapped);
    if (!existsSync(clone))
      throw new BenchlineError("input", `${where}: repo: the clone of "${repo}" (${clone}) does not exist`);
    const commit = await resolveCommit(clone, instance.base_commit as string);
    if (!commit)
      throw new BenchlineError(
        "input",
        `${where}: base_commit: ${instance.base_commit} is not in the clone of "${repo}" (${clone})`,
      );
    input.clone = clone;
    const cache = new Map<string, string | undefined>();
    const readBase = async (path: string): Promise<string | undefined> => {
      if (!cache.has(path)) {
        const buf = await readAt(clone, commit, path);
        cache.set(path, buf === undefined ? undefined : universalNewlines(buf.toString("utf8")));
      }
      return cache.get(path);
    };
    for (const v of variants) {
      try {
        input.variants[v.name] = await buildVariant(instance, v, readBase, {
          strict: options.strict,
          retrieve: async (edits, edited, count) => {
            const { index, texts } = await treeIndex(clone, commit);
            const out = new Map(edited);
            const query = tokenize(edits.join("\n"));
            for (const path of topN(index, query, count, new Set(edited.keys())))
              out.set(path, texts.get(path) as string);
            return out;
          },
        });
      } catch (error) {
        throw new BenchlineError(
          "input",
          `${where}: work_patch_list: variant ${v.name}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
  }
}
