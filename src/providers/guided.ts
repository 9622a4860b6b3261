/**
 * Guided decoding: a base model writes the completion and, at points chosen by a policy, hands the
 * pen to an oracle model for `k` greedy tokens, at most `c` times. Both models continue the same
 * raw prompt plus everything generated so far (raw-completion models only: the OpenAI-compatible
 * `/completions` endpoint or the embedded llamacpp provider, in `mode: completion`).
 *
 * Entry: `{provider: guided, base, oracle, c, k, step_size, max_new_tokens, policy, seed, p0?,
 * threshold?, positions?}`.
 * - Decision points: before every base step (`step_size` tokens). With `c` and `k` both above 0
 *   the policy decides there whether the oracle writes the next `k` tokens:
 *   `random` — probability p0 + (1 − p0)·i/max_new_tokens at token index i, from a generator seeded
 *   by (seed, sample id, sample index); `entropy` — the base model's next-token entropy (bits, over
 *   its top logprobs with the leftover mass as one more outcome) exceeds `threshold`: the base step
 *   is kept up to the first such token and the oracle continues from there; `positions` — at the
 *   listed token indices (base steps end on them; a position inside an oracle segment is skipped).
 * - `c` or `k` of 0: base only. `c: inf`: oracle only. `k: inf`: once consulted, the oracle writes
 *   to the end.
 * - Text is concatenated exactly as generated. Generation ends at end-of-sequence (a sub-call that
 *   finishes with `stop`), at a stop string (also one spanning two segments), or at the budget.
 * - The prediction row gets `interleaved`, `cheat_positions`, `tokens` and `cost_usd` per model,
 *   `total_tokens`.
 */
import { resolve } from "node:path";
import { z } from "zod";
import {
  BenchlineError,
  type Completion,
  formatIssues,
  type GenerateContext,
  type GenerateRequest,
  type Generation,
  type ModelSpec,
  type Provider,
  type ProviderEnv,
  type SamplingParams,
  seededRandom,
  stableStringify,
  type Usage,
} from "../core/index.js";
import { readGgufVocabulary, vocabularyDifference } from "./gguf-vocab.js";
import { appendCut, type GuidedPoint, type GuidedRole, type GuidedSegment } from "./guided-segments.js";
import { createTokenEngine, type TokenEngine, type TokenSideOptions } from "./guided-tokens.js";
import { ProviderError } from "./http.js";
import type { ModelDeclaration } from "./options.js";

export type { GuidedPoint, GuidedRole, GuidedSegment } from "./guided-segments.js";

/** Creates the base and oracle providers (the registry passes its own `createProvider`). */
export type SubProviderFactory = (spec: ModelSpec, env: ProviderEnv) => Provider;

/** Providers that continue a raw prompt when in `mode: completion`. */
const RAW_CAPABLE = new Set(["openai", "vllm", "ollama", "llamacpp-server", "llamacpp"]);
const SAMPLING_KEYS = new Set(["temperature", "top_p", "max_tokens", "stop", "seed", "top_logprobs"]);

/** A count that may be infinite: a non-negative integer, `inf` or YAML's `.inf`. */
const count = z.union([
  z.number().int().min(0),
  z.literal(Number.POSITIVE_INFINITY),
  z.enum(["inf", "∞"]).transform(() => Number.POSITIVE_INFINITY),
]);

const subEntry = z.union([
  z.string().min(1),
  z.looseObject({
    provider: z.string().min(1),
    id: z.string().min(1).optional(),
    model: z.string().optional(),
  }),
]);

const optionsSchema = z
  .strictObject({
    base: subEntry,
    oracle: subEntry,
    c: count,
    k: count,
    step_size: z.number().int().positive().default(1),
    max_new_tokens: z.number().int().positive().optional(),
    policy: z.enum(["random", "entropy", "positions"]).default("random"),
    p0: z.number().min(0).max(1).optional(),
    threshold: z.number().min(0).optional(),
    positions: z.array(z.number().int().min(0)).optional(),
    /** Set on every model by `--timeout`; passed on to base and oracle. */
    timeout: z.number().positive().optional(),
    /** Two embedded llamacpp models sharing a vocabulary switch token by token in process. */
    token_level: z.boolean().default(false),
    /** Record the base model's next-token statistics at every decision point (`benchline analyze`). */
    analysis: z.boolean().default(false),
  })
  .superRefine((o, ctx) => {
    const only = (key: "p0" | "threshold" | "positions", policy: string) => {
      if (o[key] !== undefined && o.policy !== policy)
        ctx.addIssue({ code: "custom", path: [key], message: `only applies to policy: ${policy}` });
    };
    only("p0", "random");
    only("threshold", "entropy");
    only("positions", "positions");
    if (o.policy === "entropy" && o.threshold === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["threshold"],
        message: "policy entropy needs a threshold (bits)",
      });
    if (o.policy === "positions" && o.positions === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["positions"],
        message: "policy positions needs a list of token indices",
      });
  });

export type GuidedOptions = z.output<typeof optionsSchema>;

/**
 * What a guided entry may set (for the registry's check that nothing is silently ignored); the
 * values themselves are checked by `createGuidedProvider`, with its own messages.
 */
export const guidedModel: ModelDeclaration = {
  options: z.strictObject(
    Object.fromEntries(
      [...Object.keys(optionsSchema.shape), "grid", "context_length"].map((key) => [
        key,
        z.unknown().optional(),
      ]),
    ),
  ),
  model: "none",
  sampling: true,
};

export interface GuidedSettings {
  c: number;
  k: number;
  stepSize: number;
  maxNewTokens: number;
  policy: GuidedOptions["policy"];
  p0: number;
  threshold: number;
  positions: number[];
  topLogprobs: number;
  params: SamplingParams;
  analysis: boolean;
}

/**
 * `guided` models. `createSub` builds the base and oracle providers (with their scheduling); both
 * are checked here, before anything runs.
 */
export function createGuidedProvider(
  spec: ModelSpec,
  env: ProviderEnv,
  createSub: SubProviderFactory,
): Provider {
  const where = `model "${spec.id}"`;
  const missing = (["base", "oracle"] as const).filter((key) => spec.options[key] === undefined);
  if (missing.length > 0)
    throw new BenchlineError(
      "config",
      `${where}: guided needs ${missing.map((m) => `"${m}"`).join(" and ")} (a model entry)`,
    );
  const parsed = optionsSchema.safeParse(spec.options);
  if (!parsed.success) throw new BenchlineError("config", `${where}: ${formatIssues(parsed.error.issues)}`);
  const o = parsed.data;
  const maxNewTokens = o.max_new_tokens ?? spec.params.max_tokens;
  if (maxNewTokens === undefined)
    throw new BenchlineError("config", `${where}: guided needs max_new_tokens (the token budget)`);
  if (
    o.max_new_tokens !== undefined &&
    spec.params.max_tokens !== undefined &&
    spec.params.max_tokens !== o.max_new_tokens
  )
    throw new BenchlineError("config", `${where}: max_tokens and max_new_tokens differ; give one`);
  if (spec.params.top_logprobs !== undefined && ((o.policy !== "entropy" && !o.analysis) || o.token_level))
    throw new BenchlineError(
      "config",
      o.token_level
        ? `${where}: top_logprobs does not apply with token_level (the full vocabulary is used)`
        : `${where}: top_logprobs only applies to policy: entropy or analysis: true (the alternatives the entropy is computed from)`,
    );
  const settings: GuidedSettings = {
    c: o.c,
    k: o.k,
    stepSize: o.step_size,
    maxNewTokens,
    policy: o.policy,
    p0: o.p0 ?? 0.3,
    threshold: o.threshold ?? 0,
    positions: [...new Set(o.positions ?? [])].sort((a, b) => a - b),
    topLogprobs: spec.params.top_logprobs ?? 5,
    params: spec.params,
    analysis: o.analysis,
  };
  const subSpec = (role: GuidedRole): ModelSpec => {
    const sub = subSpecFromEntry(o[role], `${where}: ${role}`);
    if (o.timeout !== undefined && sub.options.timeout === undefined) sub.options.timeout = o.timeout;
    return sub;
  };
  const baseSpec = subSpec("base");
  const oracleSpec = subSpec("oracle");
  const wrap = (role: GuidedRole, s: ModelSpec): Provider => {
    try {
      return acquire(stableStringify({ spec: s, baseDir: env.baseDir }), () => createSub(s, env));
    } catch (error) {
      if (error instanceof BenchlineError)
        throw new BenchlineError(error.code, `${where}: ${role}: ${error.message}`, { cause: error });
      throw error;
    }
  };
  if (o.token_level) return createTokenLevelProvider(spec, env, createSub, settings, baseSpec, oracleSpec);
  const base = wrap("base", baseSpec);
  const oracle = wrap("oracle", oracleSpec);

  return {
    id: spec.id,
    async generate(request, context) {
      const runs = await Promise.all(
        request.sampleIndices.map((sample) =>
          guide(
            request,
            sample,
            settings,
            { base, oracle },
            context,
            `${spec.params.seed ?? 0}/${context.sample.id}/${sample}`,
          ),
        ),
      );
      const usage: Usage = { prompt_tokens: 0, completion_tokens: 0 };
      let cost: number | undefined;
      for (const run of runs) {
        usage.prompt_tokens += run.usage.prompt_tokens;
        usage.completion_tokens += run.usage.completion_tokens;
        if (run.cost !== undefined) cost = (cost ?? 0) + run.cost;
      }
      const generation: Generation = { completions: runs.map((r) => r.completion), usage };
      if (cost !== undefined) generation.cost_usd = cost;
      return generation;
    },
    async close() {
      await Promise.all([base.close?.(), oracle.close?.()]);
    },
  };
}

/**
 * `token_level: true`: both models embedded (llamacpp) and sharing a vocabulary (checked from the
 * GGUF files, before anything runs); one token-level engine per (base, oracle) pair, shared by the
 * trials of a sweep.
 */
function createTokenLevelProvider(
  spec: ModelSpec,
  env: ProviderEnv,
  createSub: SubProviderFactory,
  settings: GuidedSettings,
  baseSpec: ModelSpec,
  oracleSpec: ModelSpec,
): Provider {
  const where = `model "${spec.id}"`;
  const side = (role: GuidedRole, sub: ModelSpec): TokenSideOptions => {
    if (sub.provider !== "llamacpp")
      throw new BenchlineError(
        "config",
        `${where}: token_level needs two embedded models; ${role} "${sub.id}" is provider ${sub.provider} (use provider: llamacpp)`,
      );
    for (const key of ["concurrency", "rpm", "tpm"])
      if (sub.options[key] !== undefined)
        throw new BenchlineError(
          "config",
          `${where}: ${role}: "${key}" does not apply with token_level (one request at a time, in process)`,
        );
    // The registry checks the entry's options and that the file exists (the model loads on first use).
    try {
      void createSub(sub, env).close?.();
    } catch (error) {
      if (error instanceof BenchlineError)
        throw new BenchlineError(error.code, `${where}: ${role}: ${error.message}`, { cause: error });
      throw error;
    }
    const o: TokenSideOptions = {
      path: sub.path ?? resolve(env.baseDir, sub.model as string),
      threads: (sub.options.threads as number | undefined) ?? 2,
    };
    if (sub.options.context_size !== undefined) o.contextSize = sub.options.context_size as number;
    return o;
  };
  const base = side("base", baseSpec);
  const oracle = side("oracle", oracleSpec);
  const difference = vocabularyDifference(readGgufVocabulary(base.path), readGgufVocabulary(oracle.path));
  if (difference !== undefined)
    throw new BenchlineError(
      "config",
      `${where}: token_level needs base and oracle with the same vocabulary; ${baseSpec.model} and ${oracleSpec.model} differ (${difference})`,
    );
  const key = stableStringify({ base, oracle });
  let entry = engines.get(key);
  if (!entry) {
    entry = { engine: createTokenEngine(base, oracle), users: 0 };
    engines.set(key, entry);
  }
  entry.users++;
  const held = entry;
  let closed = false;
  return {
    id: spec.id,
    async generate(request, context) {
      const stops = request.stop ?? settings.params.stop ?? [];
      const runs: GuidedRun[] = [];
      for (const sample of request.sampleIndices)
        runs.push(
          await held.engine.run(
            request.prompt,
            sample,
            settings,
            `${settings.params.seed ?? 0}/${context.sample.id}/${sample}`,
            stops,
            context.signal,
          ),
        );
      return {
        completions: runs.map((r) => r.completion),
        usage: {
          prompt_tokens: runs.reduce((a, r) => a + r.usage.prompt_tokens, 0),
          completion_tokens: runs.reduce((a, r) => a + r.usage.completion_tokens, 0),
        },
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (--held.users > 0) return;
      engines.delete(key);
      await held.engine.close();
    },
  };
}

const engines = new Map<string, { engine: TokenEngine; users: number }>();

/**
 * Base and oracle providers shared by every guided model that names the same entry (the trials of a
 * sweep): an embedded model is loaded once, and a server's concurrency limit holds across them.
 * Closed when the last user closes.
 */
const shared = new Map<string, { provider: Provider; users: number }>();

function acquire(key: string, make: () => Provider): Provider {
  let entry = shared.get(key);
  if (!entry) {
    entry = { provider: make(), users: 0 };
    shared.set(key, entry);
  }
  entry.users++;
  const held = entry;
  let closed = false;
  return {
    id: held.provider.id,
    generate: (request, context) => held.provider.generate(request, context),
    async close() {
      if (closed) return;
      closed = true;
      if (--held.users > 0) return;
      shared.delete(key);
      await held.provider.close?.();
    },
  };
}

/** A base/oracle entry (spec string or object) to a ModelSpec in completion mode, or a config error. */
export function subSpecFromEntry(entry: unknown, where: string): ModelSpec {
  let spec: ModelSpec;
  if (typeof entry === "string") {
    const colon = entry.indexOf(":");
    const provider = colon === -1 ? entry : entry.slice(0, colon);
    spec = { id: entry, provider, params: {}, options: {} };
    if (colon !== -1) spec.model = entry.slice(colon + 1);
  } else if (
    entry !== null &&
    typeof entry === "object" &&
    typeof (entry as { provider?: unknown }).provider === "string"
  ) {
    const { id, provider, model, ...rest } = entry as { id?: string; provider: string; model?: string };
    spec = { id: id ?? (model ? `${provider}:${model}` : provider), provider, params: {}, options: {} };
    if (model !== undefined) spec.model = model;
    if (model?.startsWith("hf:")) {
      // A hub file the pipeline downloaded (`withHubFile`): where it lies and what it is.
      const { path, sha256 } = rest as { path?: unknown; sha256?: unknown };
      if (typeof path === "string") spec.path = path;
      if (typeof sha256 === "string") spec.sha256 = sha256;
      delete (rest as { path?: unknown }).path;
      delete (rest as { sha256?: unknown }).sha256;
    }
    for (const [key, value] of Object.entries(rest)) {
      if (value === undefined) continue;
      if (SAMPLING_KEYS.has(key))
        throw new BenchlineError(
          "config",
          `${where}: "${key}" is set on the guided entry, not on its models`,
        );
      spec.options[key] = value;
    }
  } else {
    throw new BenchlineError("config", `${where}: expected a model entry (a spec string or {provider, ...})`);
  }
  if (!RAW_CAPABLE.has(spec.provider))
    throw new BenchlineError(
      "config",
      `${where}: "${spec.id}" (provider ${spec.provider}) cannot continue a raw prompt; use openai, vllm, ollama, llamacpp-server or llamacpp in mode: completion`,
    );
  const mode = spec.options.mode ?? "completion";
  if (mode !== "completion")
    throw new BenchlineError(
      "config",
      `${where}: "${spec.id}" is in mode: ${String(mode)}; guided decoding continues raw text and needs mode: completion`,
    );
  spec.options.mode = "completion";
  return spec;
}

/**
 * The base/oracle entries of a guided model that name a GGUF file on the hub
 * (`llamacpp:hf:owner/repo[@revision]/file.gguf`); the pipeline downloads each once and records it
 * with `withHubFile`.
 */
export function guidedHubModels(spec: ModelSpec): { role: GuidedRole; model: string }[] {
  if (spec.provider !== "guided") return [];
  return (["base", "oracle"] as const).flatMap((role) => {
    const entry = spec.options[role];
    let provider: unknown;
    let model: unknown;
    if (typeof entry === "string") {
      const colon = entry.indexOf(":");
      provider = entry.slice(0, colon);
      model = entry.slice(colon + 1);
    } else if (entry !== null && typeof entry === "object")
      ({ provider, model } = entry as Record<string, unknown>);
    return provider === "llamacpp" && typeof model === "string" && model.startsWith("hf:")
      ? [{ role, model }]
      : [];
  });
}

/**
 * A guided model whose `role` entry names the downloaded hub file `file`: the entry (in object
 * form) carries the file's sha256, part of the trial's identity as the content of a model file
 * is, and its local path, which is not (`trialIdentity` leaves it out).
 */
export function withHubFile(
  spec: ModelSpec,
  role: GuidedRole,
  file: { path: string; sha256: string },
): ModelSpec {
  const entry = spec.options[role];
  const object =
    typeof entry === "string"
      ? { provider: "llamacpp", model: entry.slice(entry.indexOf(":") + 1) }
      : (entry as Record<string, unknown>);
  return {
    ...spec,
    options: { ...spec.options, [role]: { ...object, sha256: file.sha256, path: file.path } },
  };
}

// ---------------------------------------------------------------- the decoding loop

interface Models {
  base: Provider;
  oracle: Provider;
}

export interface GuidedRun {
  completion: Completion;
  usage: Usage;
  cost?: number;
}

interface Step {
  text: string;
  tokens: number;
  finish: string | undefined;
  /** Per-token texts and top logprobs, when asked for. */
  logprobs?: TokenLogprobs[];
}

interface TokenLogprobs {
  token: string;
  top: { token?: string; logprob: number }[];
}

/** A decision point's statistics from the server's top logprobs. */
function topPoint(
  position: number,
  consulted: boolean,
  t: TokenLogprobs,
  oracleToken: string | null,
): GuidedPoint {
  const top = [...t.top].sort((a, b) => b.logprob - a.logprob);
  const p = top.map((x) => Math.exp(x.logprob));
  const outcomes = [...p];
  const rest = 1 - p.reduce((a, b) => a + b, 0);
  if (rest > 1e-12) outcomes.push(rest);
  const entropy = entropyBits(top);
  let h2 = 0;
  for (const q of outcomes) if (q > 0) h2 += q * Math.log2(q) ** 2;
  const baseToken = top[0]?.token ?? t.token;
  return {
    position,
    consulted,
    entropy,
    varentropy: Math.max(0, h2 - entropy * entropy),
    top1_prob: p[0] ?? 0,
    // With one alternative known, the leftover mass bounds the second from above.
    top1_minus_top2: (p[0] ?? 0) - (p[1] ?? Math.max(0, rest)),
    base_token: baseToken,
    oracle_token: oracleToken,
    agree: oracleToken === null ? null : oracleToken === baseToken,
    distribution: "top_logprobs",
  };
}

async function guide(
  request: GenerateRequest,
  sample: number,
  s: GuidedSettings,
  models: Models,
  context: GenerateContext,
  seed: string,
): Promise<GuidedRun> {
  const rng = seededRandom(seed);
  const segments: GuidedSegment[] = [];
  const cheatPositions: number[] = [];
  const perModel = {
    base: { tokens: 0, prompt_tokens: 0, completion_tokens: 0, cost: undefined as number | undefined },
    oracle: { tokens: 0, prompt_tokens: 0, completion_tokens: 0, cost: undefined as number | undefined },
  };
  const stops = request.stop ?? s.params.stop ?? [];
  const longestStop = Math.max(0, ...stops.map((x) => x.length));
  let text = "";
  let generated = 0;
  let calls = 0;
  let finish = "length";
  const oracleOn = s.c > 0 && s.k > 0;
  const oracleOnly = oracleOn && s.c === Number.POSITIVE_INFINITY;

  const call = async (role: GuidedRole, maxTokens: number, logprobs: boolean): Promise<Step> => {
    const sub: GenerateRequest = {
      messages: request.messages,
      prompt: request.prompt + text,
      n: 1,
      sampleIndices: [sample],
      max_tokens: maxTokens,
    };
    if (stops.length > 0) sub.stop = stops;
    if (role === "oracle") sub.temperature = 0;
    else {
      if (s.params.temperature !== undefined) sub.temperature = s.params.temperature;
      if (s.params.top_p !== undefined) sub.top_p = s.params.top_p;
      if (s.params.seed !== undefined) sub.seed = s.params.seed;
    }
    if (logprobs) sub.top_logprobs = s.topLogprobs;
    const generation = await models[role].generate(sub, { signal: context.signal, sample: context.sample });
    const completion = generation.completions[0];
    if (!completion) throw new ProviderError("bad_response", `${role} model returned no completion`);
    const m = perModel[role];
    if (generation.usage) {
      m.prompt_tokens += generation.usage.prompt_tokens;
      m.completion_tokens += generation.usage.completion_tokens;
    }
    if (generation.cost_usd !== undefined) m.cost = (m.cost ?? 0) + generation.cost_usd;
    const lp = readLogprobs(completion.extras?.logprobs);
    const tokens = generation.usage?.completion_tokens ?? lp?.length;
    if (tokens === undefined)
      throw new ProviderError(
        "bad_response",
        `${role} model reports no token usage; guided decoding needs token counts`,
      );
    const step: Step = { text: completion.text, tokens, finish: completion.finish_reason };
    if (lp) step.logprobs = lp;
    return step;
  };

  const append = (role: GuidedRole, piece: string, tokens: number): void => {
    if (piece.length === 0 && tokens === 0) return;
    const last = segments.at(-1);
    if (last && last.model === role) {
      last.text += piece;
      last.tokens += tokens;
    } else segments.push({ text: piece, model: role, tokens });
    perModel[role].tokens += tokens;
    generated += tokens;
    const cut = appendCut(text, piece, stops, longestStop, segments);
    text = cut.text;
    if (cut.stopped) finish = "stop";
  };

  const points: GuidedPoint[] = [];
  let positionIndex = 0;
  while (generated < s.maxNewTokens && finish !== "stop") {
    let atConsultation: TokenLogprobs | undefined;
    context.signal.throwIfAborted();
    const remaining = s.maxNewTokens - generated;
    while (positionIndex < s.positions.length && (s.positions[positionIndex] as number) < generated)
      positionIndex++;
    let consult = false;
    if (oracleOn && calls < s.c) {
      if (oracleOnly) consult = true;
      else if (s.policy === "random") consult = rng() < s.p0 + ((1 - s.p0) * generated) / s.maxNewTokens;
      else if (s.policy === "positions") consult = s.positions[positionIndex] === generated;
    }
    if (!consult) {
      let size = Math.min(s.stepSize, remaining);
      const next = s.positions[positionIndex];
      if (s.policy === "positions" && oracleOn && calls < s.c && next !== undefined)
        size = Math.min(size, next - generated);
      const entropyCheck = s.policy === "entropy" && oracleOn && calls < s.c;
      const step = await call("base", size, entropyCheck || s.analysis);
      const startedAt = generated;
      let kept = step.tokens;
      if (entropyCheck) {
        const tokens = step.logprobs;
        if (!tokens)
          throw new ProviderError(
            "bad_response",
            "base model returned no logprobs; policy entropy needs top logprobs",
          );
        const j = tokens.findIndex((t) => entropyBits(t.top) > s.threshold);
        if (j !== -1 && j < step.tokens) {
          const prefix = tokens
            .slice(0, j)
            .map((t) => t.token)
            .join("");
          if (!step.text.startsWith(prefix))
            throw new ProviderError(
              "bad_response",
              "base model's logprob tokens do not spell its completion text",
            );
          append("base", prefix, j);
          consult = true;
          kept = j;
          atConsultation = step.logprobs?.[j];
        }
      }
      if (s.analysis) {
        // Statistics at every token the base model wrote (the oracle was not asked there).
        const tokens = step.logprobs ?? [];
        for (let j = 0; j < Math.min(kept, tokens.length); j++)
          points.push(topPoint(startedAt + j, false, tokens[j] as TokenLogprobs, null));
      }
      if (!consult) {
        append("base", step.text, step.tokens);
        finish = endOf(step, finish);
        continue;
      }
      if (generated >= s.maxNewTokens || finish === "stop") break;
    }
    calls++;
    cheatPositions.push(generated);
    // The base model's distribution where the oracle takes over: one more base token, not kept.
    if (s.analysis && !atConsultation) atConsultation = (await call("base", 1, true)).logprobs?.[0];
    const budget = Math.min(s.k, s.maxNewTokens - generated);
    const position = generated;
    const step = await call("oracle", budget, s.analysis);
    if (s.analysis && atConsultation)
      points.push(topPoint(position, true, atConsultation, step.logprobs?.[0]?.token ?? null));
    append("oracle", step.text, step.tokens);
    finish = endOf(step, finish);
  }

  const cost =
    perModel.base.cost === undefined && perModel.oracle.cost === undefined
      ? undefined
      : (perModel.base.cost ?? 0) + (perModel.oracle.cost ?? 0);
  const modelRow = (role: GuidedRole) => {
    const m = perModel[role];
    return {
      tokens: m.tokens,
      usage: { prompt_tokens: m.prompt_tokens, completion_tokens: m.completion_tokens },
      ...(m.cost !== undefined ? { cost_usd: m.cost } : {}),
    };
  };
  const run: GuidedRun = {
    completion: {
      text,
      finish_reason: finish,
      extras: {
        interleaved: segments,
        cheat_positions: cheatPositions,
        guided: { base: modelRow("base"), oracle: modelRow("oracle") },
        total_tokens: generated,
        ...(s.analysis ? { points } : {}),
      },
    },
    usage: {
      prompt_tokens: perModel.base.prompt_tokens + perModel.oracle.prompt_tokens,
      completion_tokens: perModel.base.completion_tokens + perModel.oracle.completion_tokens,
    },
  };
  if (cost !== undefined) run.cost = cost;
  return run;
}

/** Whether a step ended the generation: end of sequence, a stop string, or nothing generated. */
function endOf(step: Step, current: string): string {
  if (current === "stop") return current;
  if (step.tokens === 0) return "stop"; // a model that writes nothing would otherwise be asked forever
  return step.finish === undefined || step.finish === "length" ? current : step.finish;
}

function readLogprobs(raw: unknown): Step["logprobs"] | undefined {
  if (!Array.isArray(raw)) return undefined;
  return raw.map((t: { token?: unknown; top_logprobs?: unknown }) => ({
    token: String(t.token ?? ""),
    top: Array.isArray(t.top_logprobs) ? (t.top_logprobs as { token?: string; logprob: number }[]) : [],
  }));
}

/**
 * Entropy in bits of a next-token distribution known by its top alternatives; the probability
 * mass they leave is counted as one more outcome (so the value is a lower bound on the true one).
 */
export function entropyBits(top: { logprob: number }[]): number {
  let h = 0;
  let mass = 0;
  for (const { logprob } of top) {
    const p = Math.exp(logprob);
    if (!(p > 0)) continue;
    mass += p;
    h -= p * Math.log2(p);
  }
  const rest = 1 - mass;
  if (rest > 1e-12) h -= rest * Math.log2(rest);
  return h;
}
