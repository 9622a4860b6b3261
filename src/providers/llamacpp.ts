/**
 * `llamacpp:<path.gguf>` (relative to the experiment file): a GGUF model run in-process through
 * node-llama-cpp (CPU, prebuilt binary; never builds or downloads). Reads `options`: threads, mode,
 * context_size, concurrency; the pipeline's scheduler reads concurrency, rpm, tpm, max_attempts and
 * timeout (an attempt past it is aborted between two tokens). The model is loaded on first use and
 * reused until `close()`; `concurrency` requests (default 1) run at once, each on its own context
 * sequence of `context_size` tokens (evaluated together in one batch), reusing the KV cache of a
 * shared prompt prefix.
 *
 * Sampling: temperature 0 (the default) is greedy through llama.cpp's sampler; temperature > 0
 * samples from the raw logits here (temperature, top_p) with a seeded PRNG, sample `i` using seed
 * `seed + i` (default seed 0), so samples are reproducible and independent of batching.
 * `top_logprobs` (0..k) adds `extras.logprobs`: one entry per generated token (including a final
 * end-of-generation token) with its log-probability and the k most likely alternatives, all from
 * the model's raw distribution (log-softmax of the logits, before temperature / top_p).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { ChatHistoryItem, Llama, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { z } from "zod";
import {
  BenchlineError,
  type Completion,
  type GenerateRequest,
  type ProviderFactory,
} from "../core/index.js";
import { contextLengthOption, type ModelDeclaration, schedulingOptions } from "./options.js";

const optionsSchema = z.strictObject({
  ...schedulingOptions,
  ...contextLengthOption,
  /** Requests at once, one context sequence each (default 1; memory grows with it). */
  concurrency: z.number().int().positive().default(1),
  /** CPU threads (default 2). */
  threads: z.number().int().positive().default(2),
  /** `chat`: the request's messages through the model's chat template; `completion`: the raw prompt. */
  mode: z.enum(["chat", "completion"]).default("chat"),
  /** Context window in tokens per sequence (default: the model's training context, at most 4096). */
  context_size: z.number().int().positive().optional(),
});

/** An embedded model file: needs its path, honours every sampling param, runs behind the scheduler. */
export const llamaCppModel: ModelDeclaration = { options: optionsSchema, model: "required", sampling: true };

type Options = z.infer<typeof optionsSchema>;

/** A request's prompt as tokens, plus the chat template's own end-of-turn triggers. */
interface Prompt {
  tokens: Token[];
  stopTokens: Token[];
  stopStrings: string[];
}

interface Engine {
  model: LlamaModel;
  /** Tokens each sequence holds. */
  contextSize: number;
  /** One sequence per concurrent request. */
  sequences: SequencePool;
  render(request: GenerateRequest, mode: Options["mode"]): Prompt;
  dispose(): Promise<void>;
}

interface TokenLogprob {
  token: string;
  logprob: number;
  top_logprobs: { token: string; logprob: number }[];
}

/** The llama.cpp runtime, shared by every model of the process (loading it takes ~1 s). */
let runtime: Promise<Llama> | undefined;

/** The process's llama.cpp runtime (CPU, prebuilt binary), loaded on first use. */
export async function llamaRuntime(): Promise<Llama> {
  const llamaCpp = await import("node-llama-cpp");
  runtime ??= llamaCpp.getLlama({
    gpu: false,
    build: "never",
    skipDownload: true,
    progressLogs: false,
    logLevel: llamaCpp.LlamaLogLevel.error,
  });
  return runtime;
}

async function loadEngine(modelPath: string, options: Options): Promise<Engine> {
  const llamaCpp = await import("node-llama-cpp");
  const model = await (await llamaRuntime())
    .loadModel({ modelPath, gpuLayers: 0 })
    .catch((error: unknown) => {
      throw new BenchlineError("input", `cannot load ${modelPath}: ${String(error)}`, { cause: error });
    });
  const context = await model
    .createContext({
      contextSize: options.context_size ?? Math.min(4096, model.trainContextSize),
      threads: options.threads,
      sequences: options.concurrency,
    })
    .catch(async (error: unknown) => {
      await model.dispose();
      throw error;
    });
  const chatWrapper = llamaCpp.resolveChatWrapper(model);
  return {
    model,
    contextSize: context.contextSize,
    sequences: new SequencePool(Array.from({ length: options.concurrency }, () => context.getSequence())),
    render(request, mode) {
      if (mode === "completion") {
        // As llama.cpp's server does it: special tokens parsed, BOS if the model wants one.
        const tokens = model.tokenize(request.prompt, true);
        const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
        if (bos != null && tokens[0] !== bos) tokens.unshift(bos);
        return { tokens, stopTokens: [], stopStrings: [] };
      }
      const history: ChatHistoryItem[] = request.messages.map((m) =>
        m.role === "assistant" ? { type: "model", response: [m.content] } : { type: m.role, text: m.content },
      );
      // A trailing assistant message is continued (prefill); otherwise a new turn is opened.
      if (history.at(-1)?.type !== "model") history.push({ type: "model", response: [] });
      const state = chatWrapper.generateContextState({ chatHistory: history });
      const stopTokens: Token[] = [];
      const stopStrings: string[] = [];
      for (const trigger of state.stopGenerationTriggers) {
        const tokens = trigger.tokenize(model.tokenizer);
        if (tokens.length === 1) stopTokens.push(tokens[0]!);
        else stopStrings.push(trigger.toString());
      }
      return { tokens: state.contextText.tokenize(model.tokenizer), stopTokens, stopStrings };
    },
    dispose: () => model.dispose(),
  };
}

/** Free context sequences, handed out first come first served; waiting is abortable. */
class SequencePool {
  private readonly waiters: ((sequence: LlamaContextSequence) => void)[] = [];
  constructor(private readonly free: LlamaContextSequence[]) {}

  async use<T>(signal: AbortSignal, fn: (sequence: LlamaContextSequence) => Promise<T>): Promise<T> {
    const sequence = this.free.pop() ?? (await this.wait(signal));
    try {
      return await fn(sequence);
    } finally {
      const next = this.waiters.shift();
      if (next) next(sequence);
      else this.free.push(sequence);
    }
  }

  private wait(signal: AbortSignal): Promise<LlamaContextSequence> {
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiters.splice(this.waiters.indexOf(take), 1);
        reject(signal.reason);
      };
      const take = (sequence: LlamaContextSequence) => {
        signal.removeEventListener("abort", onAbort);
        resolve(sequence);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(take);
    });
  }
}

/** Mulberry32: a small seeded PRNG returning floats in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples from logits sorted high to low, with temperature and nucleus (top_p) truncation. */
function sampleToken(logits: Map<Token, number>, temperature: number, topP: number, random: () => number) {
  const entries = [...logits];
  const max = entries[0]?.[1] ?? 0;
  const weights = entries.map(([, logit]) => Math.exp((logit - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let kept = 0;
  let mass = 0;
  while (kept < weights.length && mass < topP * total) mass += weights[kept++]!;
  let u = random() * mass;
  for (let i = 0; i < kept; i++) {
    u -= weights[i]!;
    if (u < 0) return entries[i]![0];
  }
  return entries[Math.max(0, kept - 1)]![0];
}

interface Params {
  temperature: number;
  topP: number;
  topLogprobs: number | undefined;
  maxTokens: number;
  stop: string[];
  stopTokens: Token[];
}

/** Evaluates `input`, then picks the next token and (with `top_logprobs`) its raw log-probabilities. */
async function nextToken(sequence: LlamaContextSequence, input: Token[], p: Params, random: () => number) {
  const k = p.topLogprobs;
  const greedy = p.temperature === 0;
  // Greedy: llama.cpp picks the token and returns only the top-k logits and the softmax normaliser.
  // Sampled: every raw logit comes back and the token is drawn here.
  const filter = { tokens: [], includeTop: k ?? 0, includeMax: true, includeSelected: true };
  const generateNext = greedy
    ? { token: true, ...(k !== undefined && { logits: { filter }, totalLogitWeight: true }) }
    : { logits: true };
  const results = await sequence.controlledEvaluate([
    ...input.slice(0, -1),
    [input.at(-1)!, { generateNext }],
  ]);
  const next = results.at(-1)?.next;
  const logits = next?.logits;
  const token = greedy ? next?.token : logits && sampleToken(logits, p.temperature, p.topP, random);
  if (token == null) throw new Error("llama.cpp returned no next token");
  if (k === undefined || !logits) return { token };
  const values = [...logits.values()];
  const max = values.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  const logZ = max + Math.log(next?.totalLogitWeight ?? values.reduce((s, l) => s + Math.exp(l - max), 0));
  return { token, top: [...logits.keys()].slice(0, k), logprob: (t: Token) => (logits.get(t) ?? 0) - logZ };
}

/** One completion of `prompt` on `sequence` (which the caller holds). */
async function complete(
  model: LlamaModel,
  sequence: LlamaContextSequence,
  prompt: Token[],
  p: Params,
  seed: number,
  signal: AbortSignal,
) {
  const random = rng(seed);
  // Reuse the cached prefix, but always evaluate at least the last prompt token to get its logits.
  await sequence.adaptStateToTokens(prompt, false);
  const keep = Math.min(sequence.nextTokenIndex, prompt.length - 1);
  if (keep < sequence.nextTokenIndex)
    await sequence.eraseContextTokenRanges([{ start: keep, end: sequence.nextTokenIndex }]);
  let input = prompt.slice(keep);
  // Detokenize after the preceding tokens, or llama.cpp drops a leading space (SentencePiece `▁`).
  const before = prompt.slice(-4);
  const generated: Token[] = [];
  const logprobs: TokenLogprob[] = [];
  let text = "";
  let stopped = false;
  while (!stopped && generated.length < p.maxTokens) {
    signal.throwIfAborted();
    const step = await nextToken(sequence, input, p, random);
    if (step.logprob) {
      const previous = [...before, ...generated.slice(-4)].slice(-4);
      const entry = (t: Token) => ({
        token: model.detokenize([t], true, previous),
        logprob: step.logprob(t),
      });
      logprobs.push({ ...entry(step.token), top_logprobs: step.top.map(entry) });
    }
    generated.push(step.token);
    input = [step.token];
    stopped = model.isEogToken(step.token) || p.stopTokens.includes(step.token);
    if (stopped) break;
    text = model.detokenize(generated, false, before);
    const cut = Math.min(...p.stop.map((s) => text.indexOf(s)).filter((i) => i >= 0));
    stopped = Number.isFinite(cut);
    if (stopped) text = text.slice(0, cut);
  }
  const completion: Completion = { text, finish_reason: stopped ? "stop" : "length" };
  if (p.topLogprobs !== undefined) completion.extras = { logprobs };
  return { completion, tokens: generated.length };
}

export const createLlamaCppProvider: ProviderFactory = (spec, env) => {
  const invalid = (message: string) => new BenchlineError("config", `${spec.id}: ${message}`);
  if (!spec.model) throw invalid("llamacpp needs a model path (llamacpp:<file.gguf>)");
  const parsed = optionsSchema.safeParse(spec.options);
  if (!parsed.success) throw invalid(`invalid llamacpp options: ${z.prettifyError(parsed.error)}`);
  const options = parsed.data;
  const modelPath = spec.path ?? resolve(env.baseDir, spec.model);
  if (!existsSync(modelPath))
    throw new BenchlineError("not_found", `${spec.id}: model file not found: ${modelPath}`);
  let engine: Promise<Engine> | undefined;
  const running = new Set<Promise<unknown>>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    running.add(promise);
    const done = () => running.delete(promise);
    promise.then(done, done);
    return promise;
  };

  return {
    id: spec.id,
    generate(request: GenerateRequest, { signal }) {
      return track(
        (async () => {
          signal.throwIfAborted();
          engine ??= loadEngine(modelPath, options);
          const e = await engine;
          const { tokens: prompt, stopTokens, stopStrings } = e.render(request, options.mode);
          const room = e.contextSize - prompt.length;
          if (room <= 0)
            throw new Error(`prompt has ${prompt.length} tokens; the context holds ${e.contextSize}`);
          const params: Params = {
            temperature: request.temperature ?? 0,
            topP: request.top_p ?? 1,
            topLogprobs: request.top_logprobs,
            maxTokens: Math.min(room, request.max_tokens ?? room),
            stop: [...(request.stop ?? []), ...stopStrings],
            stopTokens,
          };
          return e.sequences.use(signal, async (sequence) => {
            const completions: Completion[] = [];
            let completionTokens = 0;
            for (const index of request.sampleIndices) {
              const seed = (request.seed ?? 0) + index;
              const { completion, tokens } = await complete(e.model, sequence, prompt, params, seed, signal);
              completions.push(completion);
              completionTokens += tokens;
            }
            return {
              completions,
              usage: {
                prompt_tokens: prompt.length * completions.length,
                completion_tokens: completionTokens,
              },
            };
          });
        })(),
      );
    },
    async close() {
      const loaded = engine;
      engine = undefined;
      await Promise.allSettled([...running]);
      if (loaded) await (await loaded.catch(() => undefined))?.dispose();
    },
  };
};
