/**
 * The vocabulary of a GGUF model file (`tokenizer.ggml.model` and `tokenizer.ggml.tokens`), read
 * synchronously from the metadata at the start of the file, without loading the model: guided
 * decoding's token-level mode checks that base and oracle share one before anything runs.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { BenchlineError } from "../core/index.js";

export interface GgufVocabulary {
  /** `tokenizer.ggml.model` (llama, gpt2, ...). */
  model: string;
  tokens: string[];
}

/** GGUF metadata value types (spec: gguf.md). */
const SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;
const WANTED = ["tokenizer.ggml.model", "tokenizer.ggml.tokens"];

/** Reads the vocabulary of `path`; a file that is not GGUF or has none is an `input` error. */
export function readGgufVocabulary(path: string): GgufVocabulary {
  const reader = new Reader(path);
  try {
    if (reader.bytes(4).toString("latin1") !== "GGUF") throw new Error("not a GGUF file");
    const version = reader.u32();
    if (version < 2) throw new Error(`GGUF version ${version} is not supported`);
    reader.u64(); // tensor count
    const count = reader.u64();
    const found: Record<string, unknown> = {};
    for (let i = 0; i < count && Object.keys(found).length < WANTED.length; i++) {
      const key = reader.string();
      const type = reader.u32();
      if (WANTED.includes(key)) found[key] = reader.value(type);
      else reader.skip(type);
    }
    const model = found["tokenizer.ggml.model"];
    const tokens = found["tokenizer.ggml.tokens"];
    if (typeof model !== "string" || !Array.isArray(tokens)) throw new Error("the file has no tokenizer");
    return { model, tokens: tokens as string[] };
  } catch (error) {
    throw new BenchlineError("input", `${path}: cannot read its vocabulary: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    reader.close();
  }
}

/** Why two vocabularies differ (the first difference), or undefined when they are the same. */
export function vocabularyDifference(a: GgufVocabulary, b: GgufVocabulary): string | undefined {
  if (a.model !== b.model) return `tokenizer ${a.model} vs ${b.model}`;
  if (a.tokens.length !== b.tokens.length) return `${a.tokens.length} vs ${b.tokens.length} tokens`;
  const i = a.tokens.findIndex((t, j) => t !== b.tokens[j]);
  return i === -1
    ? undefined
    : `token ${i} is ${JSON.stringify(a.tokens[i])} vs ${JSON.stringify(b.tokens[i])}`;
}

// ---------------------------------------------------------------- internal helpers

/** Sequential little-endian reads through a 1 MiB window. */
class Reader {
  private readonly fd: number;
  private buffer = Buffer.alloc(0);
  private at = 0;
  private position = 0;

  constructor(path: string) {
    this.fd = openSync(path, "r");
  }
  close(): void {
    closeSync(this.fd);
  }
  private need(n: number): void {
    if (this.at + n <= this.buffer.length) return;
    const rest = this.buffer.subarray(this.at);
    const chunk = Buffer.alloc(Math.max(n - rest.length, 1 << 20));
    const read = readSync(this.fd, chunk, 0, chunk.length, this.position);
    this.position += read;
    this.buffer = Buffer.concat([rest, chunk.subarray(0, read)]);
    this.at = 0;
    if (this.buffer.length < n) throw new Error("the file ends inside its metadata");
  }
  bytes(n: number): Buffer {
    this.need(n);
    const out = this.buffer.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u32(): number {
    return this.bytes(4).readUInt32LE(0);
  }
  u64(): number {
    const v = this.bytes(8).readBigUInt64LE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("a length is out of range");
    return Number(v);
  }
  string(): string {
    return this.bytes(this.u64()).toString("utf8");
  }
  value(type: number): unknown {
    if (type === STRING) return this.string();
    if (type === ARRAY) {
      const itemType = this.u32();
      const n = this.u64();
      const items: unknown[] = [];
      for (let i = 0; i < n; i++) items.push(this.value(itemType));
      return items;
    }
    const size = SIZES[type];
    if (size === undefined) throw new Error(`unknown metadata type ${type}`);
    return this.bytes(size);
  }
  skip(type: number): void {
    if (type === STRING) {
      this.bytes(this.u64());
      return;
    }
    if (type === ARRAY) {
      const itemType = this.u32();
      const n = this.u64();
      const size = SIZES[itemType];
      if (size !== undefined) {
        for (let left = n * size; left > 0; ) {
          const step = Math.min(left, 1 << 20);
          this.bytes(step);
          left -= step;
        }
      } else for (let i = 0; i < n; i++) this.skip(itemType);
      return;
    }
    const size = SIZES[type];
    if (size === undefined) throw new Error(`unknown metadata type ${type}`);
    this.bytes(size);
  }
}
