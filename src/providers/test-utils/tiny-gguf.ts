/**
 * A tiny deterministic llama-architecture GGUF model, written from the GGUF v3 spec, for tests of
 * the embedded llama.cpp provider. No weights are downloaded: the file is generated (~120 KB).
 *
 * Vocabulary (SentencePiece "llama" tokenizer, one token per character, byte fallback):
 * `<unk>`, `<s>`, `</s>`, `<0x00>`..`<0xFF>`, `▁`, a-z, A-Z, 0-9, some punctuation, and the ChatML
 * control tokens `<|im_start|>`, `<|im_end|>` (the chat template is ChatML).
 *
 * Weights: attention and FFN weights are zero, so the residual stream is the token embedding and
 * the next token depends on the last token only (a bigram table). The embedding of token `i` is the
 * one-hot code of its successor, and the output matrix maps that code to a logit of `margin` for
 * the successor (every other token gets 0). The bigram table: `a→b→…→y→z→</s>`, `.→▁` (a space),
 * every other token → `a`. So greedy generation continues the alphabet from the prompt's last letter
 * and stops after `z`; after a full stop it first emits a space.
 */
import { writeFile } from "node:fs/promises";

export interface TinyGgufOptions {
  /** Logit of the bigram's next token (every other token has logit 0). Default 8. */
  margin?: number;
  /** `llama.context_length`. Default 256. */
  contextLength?: number;
  /**
   * Letters the chain advances per token: 1 (default) `a→b→c`, 2 `a→c→e`; past `z` comes `</s>`.
   * Models with different steps share the vocabulary and have different greedy chains.
   */
  step?: number;
  /** Tokens appended to the vocabulary (a model whose vocabulary differs from the default). */
  extraTokens?: string[];
  /** Past `z` comes a space (then `a` again) instead of `</s>`: generation runs to the budget. */
  cycle?: boolean;
  /**
   * Embedding width (default 32, at least 28) and block count (default 1): a larger model with the
   * same chains, for benchmarks where model compute should weigh (its extra weights are zero).
   */
  width?: number;
  layers?: number;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";
const CHARS = `▁${LETTERS}${LETTERS.toUpperCase()}0123456789.,!?:;'"-()/`;
const DEFAULT_EMBED = 32;
const EOS = 2;
const RMS_EPS = 1e-5;

/** `tokenizer.ggml.token_type` values. */
const TokenType = { Normal: 1, Unknown: 2, Control: 3, Byte: 6 } as const;

const VOCAB: ReadonlyArray<readonly [string, number]> = [
  ["<unk>", TokenType.Unknown],
  ["<s>", TokenType.Control],
  ["</s>", TokenType.Control],
  ...Array.from(
    { length: 256 },
    (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, TokenType.Byte] as const,
  ),
  ...Array.from(CHARS, (c) => [c, TokenType.Normal] as const),
  ["<|im_start|>", TokenType.Control],
  ["<|im_end|>", TokenType.Control],
];

export const TINY_VOCAB_SIZE = VOCAB.length;

export const TINY_CHAT_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const tokenIds = new Map(VOCAB.map(([text], id) => [text, id]));

/**
 * The bigram table over token texts: the greedy successor of each token ("" stands for `</s>`).
 * Tokens not listed are followed by "a".
 */
const successorTable = (step: number, cycle = false) =>
  new Map<string, string>([
    [".", "▁"],
    ...Array.from(LETTERS, (c, i) => [c, LETTERS[i + step] ?? (cycle ? "▁" : "")] as const),
  ]);
const SUCCESSOR = successorTable(1);
/** Every successor, in the order of their one-hot codes in the embedding space. */
const TARGETS = ["▁", ...LETTERS, ""];
const successor = (piece: string, table = SUCCESSOR): string => table.get(piece) ?? "a";
const pieceOf = (token: number, vocab = VOCAB): string => (token === EOS ? "" : vocab[token]![0]);
const idOf = (piece: string): number => (piece === "" ? EOS : tokenIds.get(piece)!);

// ---------------------------------------------------------------- predictions

export interface TinyPrediction {
  text: string;
  /** Generated tokens (including `</s>` when it is reached). */
  tokens: number;
  finishReason: "stop" | "length";
}

/**
 * The greedy continuation of `prompt` (the text the model sees, after any chat template). The last
 * token is the last character of the prompt (one token per character, a space is `▁`); an empty
 * prompt ends in `<s>`.
 */
export function predictGreedy(
  prompt: string,
  maxTokens = Number.POSITIVE_INFINITY,
  step = 1,
  cycle = false,
): TinyPrediction {
  const table = step === 1 && !cycle ? SUCCESSOR : successorTable(step, cycle);
  let piece = prompt.at(-1) ?? "<s>";
  let text = "";
  for (let tokens = 0; tokens < maxTokens; tokens++) {
    piece = successor(piece, table);
    if (piece === "") return { text, tokens: tokens + 1, finishReason: "stop" };
    text += piece === "▁" ? " " : piece;
  }
  return { text, tokens: text.length, finishReason: "length" };
}

/** The tiny model's chat template rendered with a generation prompt (ChatML). */
export function renderTinyChat(messages: ReadonlyArray<{ role: string; content: string }>): string {
  return `${messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join("")}<|im_start|>assistant\n`;
}

/**
 * Natural-log probability of the greedy token (the same at every step). The logit is `margin`
 * shrunk slightly by the RMSNorm epsilon.
 */
export function tinyTopLogprob(options: TinyGgufOptions = {}): number {
  const logit = (options.margin ?? 8) / Math.sqrt(1 + (options.width ?? DEFAULT_EMBED) * RMS_EPS);
  return logit - Math.log(Math.exp(logit) + TINY_VOCAB_SIZE - 1);
}

// ---------------------------------------------------------------- GGUF writer

type GgufValue =
  | { type: "u32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "strings"; value: readonly string[] }
  | { type: "f32s"; value: readonly number[] }
  | { type: "i32s"; value: readonly number[] };

interface Tensor {
  name: string;
  /** ggml order: `dims[0]` is the fastest-varying (row length). */
  dims: readonly number[];
  data: Float32Array;
}

const ValueType = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;
const ALIGNMENT = 32;
const GGML_TYPE_F32 = 0;

class ByteWriter {
  private chunks: Buffer[] = [];
  length = 0;

  private push(buffer: Buffer): void {
    this.chunks.push(buffer);
    this.length += buffer.length;
  }
  u32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    this.push(b);
  }
  i32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    this.push(b);
  }
  u64(value: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(value));
    this.push(b);
  }
  f32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.push(b);
  }
  string(value: string): void {
    const bytes = Buffer.from(value, "utf8");
    this.u64(bytes.length);
    this.push(bytes);
  }
  bytes(value: Uint8Array): void {
    this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  pad(): void {
    this.push(Buffer.alloc((ALIGNMENT - (this.length % ALIGNMENT)) % ALIGNMENT));
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeValue(w: ByteWriter, v: GgufValue): void {
  const array = (type: number, count: number): void => {
    w.u32(ValueType.array);
    w.u32(type);
    w.u64(count);
  };
  switch (v.type) {
    case "u32":
      w.u32(ValueType.u32);
      w.u32(v.value);
      break;
    case "f32":
      w.u32(ValueType.f32);
      w.f32(v.value);
      break;
    case "bool":
      w.u32(ValueType.bool);
      w.bytes(Uint8Array.of(v.value ? 1 : 0));
      break;
    case "string":
      w.u32(ValueType.string);
      w.string(v.value);
      break;
    case "strings":
      array(ValueType.string, v.value.length);
      for (const s of v.value) w.string(s);
      break;
    case "f32s":
      array(ValueType.f32, v.value.length);
      for (const x of v.value) w.f32(x);
      break;
    case "i32s":
      array(ValueType.i32, v.value.length);
      for (const x of v.value) w.i32(x);
      break;
  }
}

/** Serialises a GGUF v3 file with F32 tensors. */
function encodeGguf(metadata: Record<string, GgufValue>, tensors: readonly Tensor[]): Buffer {
  const w = new ByteWriter();
  w.bytes(Buffer.from("GGUF", "ascii"));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(Object.keys(metadata).length);
  for (const [key, value] of Object.entries(metadata)) {
    w.string(key);
    writeValue(w, value);
  }
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_TYPE_F32);
    w.u64(offset);
    offset += Math.ceil(t.data.byteLength / ALIGNMENT) * ALIGNMENT;
  }
  w.pad();
  for (const t of tensors) {
    w.bytes(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    w.pad();
  }
  return w.toBuffer();
}

// ---------------------------------------------------------------- the model

/** The tiny model as GGUF bytes. */
export function buildTinyGguf(options: TinyGgufOptions = {}): Buffer {
  const margin = options.margin ?? 8;
  const table = successorTable(options.step ?? 1, options.cycle);
  const embed = options.width ?? DEFAULT_EMBED;
  const ff = embed;
  const heads = embed % 64 === 0 && embed > 64 ? embed / 64 : 2;
  if (embed < TARGETS.length || embed % 2 !== 0)
    throw new Error(`width ${embed}: an even number, at least ${TARGETS.length}`);
  const layers = options.layers ?? 1;
  const vocabulary = [...VOCAB, ...(options.extraTokens ?? []).map((t) => [t, TokenType.Normal] as const)];
  const vocab = vocabulary.length;
  const embeddings = new Float32Array(vocab * embed);
  const output = new Float32Array(vocab * embed);
  for (let token = 0; token < vocab; token++)
    embeddings[token * embed + TARGETS.indexOf(successor(pieceOf(token, vocabulary), table))] = 1;
  // RMSNorm turns the one-hot embedding into sqrt(width) * one-hot; scale so the logit is `margin`.
  TARGETS.forEach((piece, code) => {
    output[idOf(piece) * embed + code] = margin / Math.sqrt(embed);
  });
  const zeros = (rows: number, cols: number): Float32Array => new Float32Array(rows * cols);
  const ones = new Float32Array(embed).fill(1);
  const tensors: Tensor[] = [
    { name: "token_embd.weight", dims: [embed, vocab], data: embeddings },
    { name: "output_norm.weight", dims: [embed], data: ones },
    { name: "output.weight", dims: [embed, vocab], data: output },
    ...Array.from({ length: layers }, (_, b) => [
      { name: `blk.${b}.attn_norm.weight`, dims: [embed], data: ones },
      ...["attn_q", "attn_k", "attn_v", "attn_output"].map((n) => ({
        name: `blk.${b}.${n}.weight`,
        dims: [embed, embed],
        data: zeros(embed, embed),
      })),
      { name: `blk.${b}.ffn_norm.weight`, dims: [embed], data: ones },
      { name: `blk.${b}.ffn_gate.weight`, dims: [embed, ff], data: zeros(embed, ff) },
      { name: `blk.${b}.ffn_up.weight`, dims: [embed, ff], data: zeros(embed, ff) },
      { name: `blk.${b}.ffn_down.weight`, dims: [ff, embed], data: zeros(ff, embed) },
    ]).flat(),
  ];
  const u32 = (value: number): GgufValue => ({ type: "u32", value });
  return encodeGguf(
    {
      "general.architecture": { type: "string", value: "llama" },
      "general.name": { type: "string", value: "benchline-tiny" },
      "general.alignment": u32(ALIGNMENT),
      "general.file_type": u32(0),
      "llama.context_length": u32(options.contextLength ?? 256),
      "llama.embedding_length": u32(embed),
      "llama.block_count": u32(layers),
      "llama.feed_forward_length": u32(ff),
      "llama.attention.head_count": u32(heads),
      "llama.attention.head_count_kv": u32(heads),
      "llama.rope.dimension_count": u32(embed / heads),
      "llama.attention.layer_norm_rms_epsilon": { type: "f32", value: RMS_EPS },
      "llama.vocab_size": u32(vocab),
      "tokenizer.ggml.model": { type: "string", value: "llama" },
      "tokenizer.ggml.tokens": { type: "strings", value: vocabulary.map(([text]) => text) },
      "tokenizer.ggml.scores": { type: "f32s", value: vocabulary.map(() => 0) },
      "tokenizer.ggml.token_type": { type: "i32s", value: vocabulary.map(([, type]) => type) },
      "tokenizer.ggml.unknown_token_id": u32(0),
      "tokenizer.ggml.bos_token_id": u32(1),
      "tokenizer.ggml.eos_token_id": u32(EOS),
      "tokenizer.ggml.add_bos_token": { type: "bool", value: true },
      "tokenizer.ggml.add_eos_token": { type: "bool", value: false },
      "tokenizer.chat_template": { type: "string", value: TINY_CHAT_TEMPLATE },
    },
    tensors,
  );
}

/** Writes the tiny model to `path` and returns `path`. */
export async function writeTinyGguf(path: string, options: TinyGgufOptions = {}): Promise<string> {
  await writeFile(path, buildTinyGguf(options));
  return path;
}
