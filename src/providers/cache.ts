/**
 * An on-disk response cache in front of any provider. One file per sample, content-addressed:
 * `dir/ab/abcdef….json` where the name is the sha256 of the model identity, the request
 * parameters, the prompt and the sample index. Wrap the scheduler, not the other way round, so
 * hits skip the queue.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Completion, GenerateRequest, Generation, Provider, Usage } from "../core/index.js";
import { sha256, stableStringify } from "../core/index.js";
import { addUsage, ProviderError } from "./http.js";

export interface CacheKeyParts {
  provider: string;
  model?: string | undefined;
  base_url?: string | undefined;
  /** Anything else that changes answers (mode, extra_body, ...). */
  params?: Record<string, unknown> | undefined;
}

export interface CacheOptions {
  dir: string;
  key: CacheKeyParts;
  /**
   * The cost of `usage` at today's price: a hit is priced with it (so a changed price reprices
   * cached answers); without it a hit keeps the cost recorded when it was answered.
   */
  cost?: (usage: Usage) => number | undefined;
}

interface Entry {
  completion: Completion;
  /** This sample's share of the request's usage and cost. */
  usage?: Usage;
  cost_usd?: number;
}

/** The content address of one sample of a request. */
export function cacheKey(parts: CacheKeyParts, request: GenerateRequest, sampleIndex: number): string {
  const { messages, prompt, temperature, top_p, max_tokens, stop, seed, top_logprobs } = request;
  const sampling = { temperature, top_p, max_tokens, stop, seed, top_logprobs };
  return sha256(stableStringify({ v: 1, model: parts, messages, prompt, sampling, sample: sampleIndex }));
}

/**
 * Answers from `dir` when it can; asks `provider` for the missing samples together and stores
 * them. Hits are `cached: true` (a mixed answer marks its cached completions in `extras.cached`);
 * failures are never stored.
 * @example
 * const provider = withCache(withScheduler(remote), { dir: ".benchline-cache", key: { provider: "openai", model } });
 */
export function withCache(provider: Provider, options: CacheOptions): Provider {
  const fileOf = (key: string): string => join(options.dir, key.slice(0, 2), `${key}.json`);
  return {
    id: provider.id,
    close: async () => provider.close?.(),
    async generate(request, context): Promise<Generation> {
      const keys = request.sampleIndices.map((sample) => cacheKey(options.key, request, sample));
      const entries = keys.map((key) => readEntry(fileOf(key), options.cost));
      const missing = request.sampleIndices.filter((_, i) => entries[i] === undefined);
      let fresh: Generation | undefined;
      if (missing.length > 0) {
        fresh = await provider.generate({ ...request, n: missing.length, sampleIndices: missing }, context);
        const share = (value: number): number => value / missing.length;
        const writes: Promise<void>[] = [];
        for (const [j, sample] of missing.entries()) {
          const completion = fresh.completions[j];
          if (!completion) continue;
          const entry: Entry = { completion };
          if (fresh.usage)
            entry.usage = {
              prompt_tokens: share(fresh.usage.prompt_tokens),
              completion_tokens: share(fresh.usage.completion_tokens),
            };
          if (fresh.cost_usd !== undefined) entry.cost_usd = share(fresh.cost_usd);
          const i = request.sampleIndices.indexOf(sample);
          entries[i] = entry;
          writes.push(writeEntry(fileOf(keys[i] as string), entry));
        }
        await Promise.all(writes);
      }
      return merge(entries, missing.length === 0, fresh);
    },
  };
}

// ---------------------------------------------------------------- internal helpers

function merge(
  entries: (Entry | undefined)[],
  allCached: boolean,
  fresh: Generation | undefined,
): Generation {
  const freshSet = new Set(fresh?.completions);
  let usage: Usage | undefined;
  let cost: number | undefined;
  const completions = entries.map((entry) => {
    if (!entry) throw new ProviderError("bad_response", "provider returned fewer completions than requested");
    usage = addUsage(usage, entry.usage);
    if (entry.cost_usd !== undefined) cost = (cost ?? 0) + entry.cost_usd;
    if (allCached || freshSet.has(entry.completion)) return entry.completion;
    return { ...entry.completion, extras: { ...entry.completion.extras, cached: true } };
  });
  const generation: Generation = {
    completions,
    cached: allCached,
    attempts: fresh ? (fresh.attempts ?? 1) : 0,
  };
  if (usage) generation.usage = usage;
  if (cost !== undefined) generation.cost_usd = cost;
  return generation;
}

/**
 * One cache entry, read synchronously: an entry is a small local file, and a miss one failed
 * `open`. Through the thread pool every request of a burst waited for its turn there and a poll
 * of the event loop before it could be sent (the first request of a run left ≈35 ms later).
 */
function readEntry(file: string, cost: CacheOptions["cost"]): Entry | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const entry = JSON.parse(text) as Entry;
    if (typeof entry?.completion?.text !== "string") return undefined;
    if (cost && entry.usage) {
      const now = cost(entry.usage);
      if (now === undefined) delete entry.cost_usd;
      else entry.cost_usd = now;
    }
    return entry;
  } catch {
    return undefined; // a damaged entry is a miss and gets rewritten
  }
}

/** Atomic (tmp + rename). A failed write loses only the cache entry, never the answer. */
async function writeEntry(file: string, entry: Entry): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(tmp, `${JSON.stringify(entry)}\n`);
    await rename(tmp, file);
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined);
  }
}
