/**
 * Guided decoding at the token level, in process (`token_level: true`): two embedded llama.cpp
 * models that share a vocabulary take turns token by token over one token sequence. Each model has
 * its own context sequence (KV cache) and evaluates only the tokens it has not seen yet — after a
 * switch, the other model's new tokens — never the whole prefix again. The policies, budgets and
 * row fields are those of the text-level loop in `guided.ts`; the base model's next-token
 * distribution is the full vocabulary (for `policy: entropy` and `analysis`).
 */
import type { LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { type Completion, seededRandom } from "../core/index.js";
import type { GuidedRun, GuidedSettings } from "./guided.js";
import { appendCut, type GuidedPoint, type GuidedRole, type GuidedSegment } from "./guided-segments.js";
import { llamaRuntime } from "./llamacpp.js";

export interface TokenSideOptions {
  path: string;
  threads: number;
  contextSize?: number;
}

interface Side {
  model: LlamaModel;
  sequence: LlamaContextSequence;
  contextSize: number;
  /** Tokens of the shared sequence this model has not evaluated yet. */
  pending: Token[];
  /** Tokens evaluated in the current run. */
  evaluated: number;
  /** A catch-up evaluation running beside the other model's generation (see `catchUp`). */
  inflight?: Promise<void> | undefined;
  failure?: unknown;
}

/** The base model's next-token distribution at one point (full vocabulary). */
export interface Distribution {
  entropy: number;
  varentropy: number;
  top1_prob: number;
  top1_minus_top2: number;
  /** The most likely token. */
  top: Token;
}

export interface TokenEngine {
  run(
    prompt: string,
    sample: number,
    s: GuidedSettings,
    seed: string,
    stops: string[],
    signal: AbortSignal,
  ): Promise<GuidedRun>;
  close(): Promise<void>;
}

/** Loads both models on first use; runs one request at a time (one sequence per model). */
export function createTokenEngine(base: TokenSideOptions, oracle: TokenSideOptions): TokenEngine {
  let loaded: Promise<{ base: Side; oracle: Side }> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const load = async () => {
    const runtime = await llamaRuntime();
    const side = async (o: TokenSideOptions): Promise<Side> => {
      const model = await runtime.loadModel({ modelPath: o.path, gpuLayers: 0 });
      const context = await model.createContext({
        contextSize: o.contextSize ?? Math.min(4096, model.trainContextSize),
        threads: o.threads,
        sequences: 1,
      });
      return {
        model,
        sequence: context.getSequence(),
        contextSize: context.contextSize,
        pending: [],
        evaluated: 0,
      };
    };
    return { base: await side(base), oracle: await side(oracle) };
  };
  return {
    run(prompt, sample, s, seed, stops, signal) {
      const result = queue.then(async () => {
        signal.throwIfAborted();
        loaded ??= load();
        const sides = await loaded;
        return decode(sides, prompt, sample, s, seed, stops, signal);
      });
      queue = result.catch(() => undefined);
      return result;
    },
    async close() {
      await queue;
      const sides = await loaded?.catch(() => undefined);
      loaded = undefined;
      if (sides) await Promise.all([sides.base.model.dispose(), sides.oracle.model.dispose()]);
    },
  };
}

// ---------------------------------------------------------------- the decoding loop

async function decode(...args: Parameters<typeof decodeRun>): Promise<GuidedRun> {
  const [{ base, oracle }] = args;
  try {
    return await decodeRun(...args);
  } finally {
    // Nothing may still be evaluating when the next request adapts the sequences (a catch-up
    // nobody waited for failing is of no consequence: the next request re-adapts the sequence).
    await Promise.all([settle(base).catch(() => undefined), settle(oracle).catch(() => undefined)]);
  }
}

async function decodeRun(
  sides: { base: Side; oracle: Side },
  promptText: string,
  sample: number,
  s: GuidedSettings,
  seed: string,
  stops: string[],
  signal: AbortSignal,
): Promise<GuidedRun> {
  const { base, oracle } = sides;
  const prompt = tokenize(base.model, promptText);
  for (const side of [base, oracle]) await prepare(side, prompt);
  const room = Math.min(base.contextSize, oracle.contextSize) - prompt.length;
  if (room <= 0) throw new Error(`prompt has ${prompt.length} tokens; the context holds ${base.contextSize}`);
  const budget = Math.min(s.maxNewTokens, room);
  const rng = seededRandom(seed);
  const sampler = seededRandom(`${s.params.seed ?? 0}/${sample}`);
  const temperature = s.params.temperature ?? 0;
  const topP = s.params.top_p ?? 1;
  const segments: GuidedSegment[] = [];
  const cheatPositions: number[] = [];
  const points: GuidedPoint[] = [];
  const tokens: Token[] = [...prompt];
  const counts = { base: 0, oracle: 0 };
  const longestStop = Math.max(0, ...stops.map((x) => x.length));
  let text = "";
  let generated = 0;
  let calls = 0;
  let finish = "length";
  const oracleOn = s.c > 0 && s.k > 0;
  const oracleOnly = oracleOn && s.c === Number.POSITIVE_INFINITY;

  const emit = (role: GuidedRole, token: Token): void => {
    generated++;
    counts[role]++;
    const eog = sides[role].model.isEogToken(token);
    const piece = eog ? "" : sides[role].model.detokenize([token], false, tokens.slice(-4));
    const last = segments.at(-1);
    if (last && last.model === role) {
      last.text += piece;
      last.tokens++;
    } else segments.push({ text: piece, model: role, tokens: 1 });
    if (eog) {
      finish = "stop";
      return;
    }
    tokens.push(token);
    base.pending.push(token);
    oracle.pending.push(token);
    const cut = appendCut(text, piece, stops, longestStop, segments);
    text = cut.text;
    if (cut.stopped) finish = "stop";
  };
  const point = (consulted: boolean, d: Distribution, oracleToken: Token | undefined): void => {
    const piece = (t: Token) => base.model.detokenize([t], false, tokens.slice(-4));
    points.push({
      position: generated,
      consulted,
      entropy: d.entropy,
      varentropy: d.varentropy,
      top1_prob: d.top1_prob,
      top1_minus_top2: d.top1_minus_top2,
      base_token: piece(d.top),
      oracle_token: oracleToken === undefined ? null : piece(oracleToken),
      agree: oracleToken === undefined ? null : oracleToken === d.top,
      distribution: "full_vocabulary",
    });
  };
  // While the base model generates, the oracle reads the new tokens on its own thread, so a
  // consultation finds it caught up (the work is the same; it runs beside the base's, on the
  // second core). Only while a consultation can still come.
  const oracleAhead = (): boolean =>
    oracleOn &&
    !s.analysis &&
    calls < s.c &&
    (s.policy !== "positions" || s.positions.some((p) => p >= generated));
  if (oracleAhead()) catchUp(oracle, 1);
  const baseNext = () =>
    next(base, s.analysis || (s.policy === "entropy" && oracleOn && calls < s.c), temperature, topP, sampler);
  const oracleNext = () => next(oracle, false, 0, 1, sampler);

  let positionIndex = 0;
  while (generated < budget && finish !== "stop") {
    signal.throwIfAborted();
    while (positionIndex < s.positions.length && (s.positions[positionIndex] as number) < generated)
      positionIndex++;
    let consult = false;
    if (oracleOn && calls < s.c) {
      if (oracleOnly) consult = true;
      else if (s.policy === "random") consult = rng() < s.p0 + ((1 - s.p0) * generated) / s.maxNewTokens;
      else if (s.policy === "positions") consult = s.positions[positionIndex] === generated;
    }
    let atConsultation: Distribution | undefined;
    if (!consult) {
      let size = Math.min(s.stepSize, budget - generated);
      const nextPosition = s.positions[positionIndex];
      if (s.policy === "positions" && oracleOn && calls < s.c && nextPosition !== undefined)
        size = Math.min(size, nextPosition - generated);
      const entropyCheck = s.policy === "entropy" && oracleOn && calls < s.c;
      for (let j = 0; j < size && finish !== "stop"; j++) {
        const step = await baseNext();
        if (entropyCheck && step.distribution && step.distribution.entropy > s.threshold) {
          consult = true;
          atConsultation = step.distribution;
          break;
        }
        if (s.analysis && step.distribution) point(false, step.distribution, (await oracleNext()).token);
        emit("base", step.token);
        if (oracleAhead()) catchUp(oracle, CATCH_UP_TOKENS);
      }
      if (!consult) continue;
      if (generated >= budget || finish === "stop") break;
    }
    calls++;
    cheatPositions.push(generated);
    if (s.analysis && !atConsultation) atConsultation = (await baseNext()).distribution;
    const k = Math.min(s.k, budget - generated);
    for (let j = 0; j < k && finish !== "stop"; j++) {
      const step = await oracleNext();
      if (j === 0 && s.analysis && atConsultation) point(true, atConsultation, step.token);
      emit("oracle", step.token);
    }
  }

  const row = (role: GuidedRole) => ({
    tokens: counts[role],
    // Input tokens this model evaluated: the prompt (less a cached prefix) and the other model's tokens.
    usage: { prompt_tokens: sides[role].evaluated, completion_tokens: counts[role] },
  });
  const completion: Completion = {
    text,
    finish_reason: finish,
    extras: {
      interleaved: segments,
      cheat_positions: cheatPositions,
      guided: { base: row("base"), oracle: row("oracle") },
      total_tokens: generated,
      ...(s.analysis ? { points } : {}),
    },
  };
  return {
    completion,
    usage: {
      prompt_tokens: base.evaluated + oracle.evaluated,
      completion_tokens: generated,
    },
  };
}

/** As llama.cpp's server does it for a raw prompt: special tokens parsed, BOS if the model wants one. */
function tokenize(model: LlamaModel, prompt: string): Token[] {
  const tokens = model.tokenize(prompt, true);
  const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
  if (bos != null && tokens[0] !== bos) tokens.unshift(bos);
  return tokens;
}

/** Keeps the cached prefix the sequence shares with `prompt` (at least the last token is pending). */
async function prepare(side: Side, prompt: Token[]): Promise<void> {
  await side.sequence.adaptStateToTokens(prompt, false);
  const keep = Math.min(side.sequence.nextTokenIndex, prompt.length - 1);
  if (keep < side.sequence.nextTokenIndex)
    await side.sequence.eraseContextTokenRanges([{ start: keep, end: side.sequence.nextTokenIndex }]);
  side.pending = prompt.slice(keep);
  side.evaluated = 0;
}

/** Pending tokens that start a catch-up evaluation (fewer wait for the next). */
const CATCH_UP_TOKENS = 16;

/**
 * Starts evaluating the side's pending tokens but the last (which `next` evaluates with its
 * next-token request) without waiting, when at least `min` are waiting and none is in flight.
 */
function catchUp(side: Side, min: number): void {
  if (side.inflight || side.failure !== undefined || side.pending.length - 1 < min) return;
  const input = side.pending.splice(0, side.pending.length - 1);
  side.evaluated += input.length;
  side.inflight = side.sequence.controlledEvaluate(input).then(
    () => {
      side.inflight = undefined;
    },
    (error: unknown) => {
      side.inflight = undefined;
      side.failure = error;
    },
  );
}

/** Waits for the side's catch-up; its failure, if any, is thrown once. */
async function settle(side: Side): Promise<void> {
  if (side.inflight) await side.inflight;
  const failure = side.failure;
  side.failure = undefined;
  if (failure !== undefined) throw failure;
}

/**
 * Evaluates the side's pending tokens and picks its next token: greedy at temperature 0, else
 * sampled (temperature, top_p); with `distribution`, the full next-token distribution's statistics.
 */
async function next(
  side: Side,
  distribution: boolean,
  temperature: number,
  topP: number,
  random: () => number,
): Promise<{ token: Token; distribution?: Distribution }> {
  await settle(side);
  const input = side.pending;
  side.pending = [];
  side.evaluated += input.length;
  const greedy = temperature === 0;
  const generateNext = distribution || !greedy ? { logits: true } : { token: true };
  const results = await side.sequence.controlledEvaluate([
    ...input.slice(0, -1),
    [input.at(-1) as Token, { generateNext }],
  ]);
  const out = results.at(-1)?.next;
  if (out?.token != null && !out.logits) return { token: out.token };
  const logits = out?.logits;
  if (!logits) throw new Error("llama.cpp returned no next token");
  const d = stats(logits);
  const token = greedy ? d.top : sample(logits, temperature, topP, random);
  return distribution ? { token, distribution: d } : { token };
}

/** Entropy and varentropy (bits), top-1 probability and its margin over the top-2, from raw logits. */
export function stats(logits: Map<Token, number>): Distribution {
  let max = Number.NEGATIVE_INFINITY;
  let top = -1 as Token;
  for (const [token, logit] of logits)
    if (logit > max) {
      max = logit;
      top = token;
    }
  let z = 0;
  for (const logit of logits.values()) z += Math.exp(logit - max);
  const logZ = Math.log(z);
  let h = 0;
  let h2 = 0;
  let second = 0;
  for (const [token, logit] of logits) {
    const lp = logit - max - logZ; // natural log-probability
    const p = Math.exp(lp);
    if (p === 0) continue;
    const bits = -lp / Math.LN2;
    h += p * bits;
    h2 += p * bits * bits;
    if (token !== top && p > second) second = p;
  }
  const top1 = Math.exp(-logZ);
  return {
    entropy: h,
    varentropy: Math.max(0, h2 - h * h),
    top1_prob: top1,
    top1_minus_top2: top1 - second,
    top,
  };
}

function sample(logits: Map<Token, number>, temperature: number, topP: number, random: () => number): Token {
  const entries = [...logits].sort((a, b) => b[1] - a[1]);
  const max = entries[0]?.[1] ?? 0;
  const weights = entries.map(([, logit]) => Math.exp((logit - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let kept = 0;
  let mass = 0;
  while (kept < weights.length && mass < topP * total) mass += weights[kept++] as number;
  let u = random() * mass;
  for (let i = 0; i < kept; i++) {
    u -= weights[i] as number;
    if (u < 0) return (entries[i] as [Token, number])[0];
  }
  return (entries[Math.max(0, kept - 1)] as [Token, number])[0];
}
