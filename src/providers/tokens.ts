import type { Message, TokenCount } from "../core/index.js";
import type { JsonClient } from "./http.js";

/**
 * Token counts for fitting prompts into a model's context, with the model's own tokenizer where
 * one is known: OpenAI models through gpt-tokenizer (their BPE encodings, loaded on first use);
 * vLLM and llama.cpp servers through their `/tokenize` endpoint. `undefined` means no count is
 * available (unknown model, or a server without the endpoint): the caller estimates.
 */

/** The BPE encoding of an OpenAI model, when known. */
export function openAIEncoding(model: string | undefined): "o200k_base" | "cl100k_base" | undefined {
  if (!model) return undefined;
  const name = model.replace(/^openai\//, "");
  if (/^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o1|o3|o4)/.test(name)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5)/.test(name)) return "cl100k_base";
  return undefined;
}

// OpenAI's chat format costs a few tokens per message and three to prime the reply (their cookbook).
const PER_MESSAGE = 3;
const REPLY = 3;

export function bpeCounter(
  encoding: "o200k_base" | "cl100k_base",
  mode: "chat" | "completion",
): (messages: readonly Message[], prompt: string) => Promise<TokenCount> {
  let loaded: Promise<(text: string) => number> | undefined;
  const load = () =>
    (loaded ??= (
      encoding === "o200k_base"
        ? import("gpt-tokenizer/encoding/o200k_base")
        : import("gpt-tokenizer/encoding/cl100k_base")
    ).then((m) => (text: string) => m.encode(text, { disallowedSpecial: new Set() }).length));
  return async (messages, prompt) => {
    const count = await load();
    const tokens =
      mode === "chat"
        ? messages.reduce((n, m) => n + PER_MESSAGE + count(m.role) + count(m.content), REPLY)
        : count(prompt);
    return { tokens, tokenizer: encoding };
  };
}

export interface ServerTokenizer {
  client: JsonClient;
  /** The server's root (the base URL without `/v1`). */
  root: string;
  kind: "vllm" | "llamacpp-server";
  mode: "chat" | "completion";
  model: string | undefined;
  headers: () => Record<string, string>;
  secrets: readonly string[];
}

/**
 * The server's tokenizer: vLLM `POST /tokenize` ({model, messages} or {model, prompt} → count);
 * llama.cpp `POST /apply-template` (chat) then `POST /tokenize` ({content} → tokens). A server
 * that refuses (404, no such route) is not asked again.
 */
export function serverCounter(
  s: ServerTokenizer,
): (messages: readonly Message[], prompt: string, signal?: AbortSignal) => Promise<TokenCount | undefined> {
  let unavailable = false;
  const post = async (path: string, body: unknown, signal?: AbortSignal) =>
    s.client.post(new URL(`${s.root}/${path}`), body, {
      headers: s.headers(),
      signal: signal ?? new AbortController().signal,
      secrets: s.secrets,
    });
  return async (messages, prompt, signal) => {
    if (unavailable) return undefined;
    try {
      if (s.kind === "vllm") {
        const body =
          s.mode === "chat"
            ? { ...(s.model ? { model: s.model } : {}), messages }
            : { ...(s.model ? { model: s.model } : {}), prompt };
        const out = (await post("tokenize", body, signal)) as { count?: unknown; tokens?: unknown };
        const tokens =
          typeof out.count === "number" ? out.count : Array.isArray(out.tokens) ? out.tokens.length : NaN;
        if (!Number.isFinite(tokens)) throw new Error("no count in the /tokenize answer");
        return { tokens, tokenizer: "server" };
      }
      let content = prompt;
      if (s.mode === "chat") {
        const applied = (await post("apply-template", { messages }, signal)) as { prompt?: unknown };
        if (typeof applied.prompt !== "string") throw new Error("no prompt in the /apply-template answer");
        content = applied.prompt;
      }
      const out = (await post("tokenize", { content, add_special: true }, signal)) as { tokens?: unknown };
      if (!Array.isArray(out.tokens)) throw new Error("no tokens in the /tokenize answer");
      return { tokens: out.tokens.length, tokenizer: "server" };
    } catch (error) {
      if ((error as { name?: string }).name === "AbortError" || signal?.aborted) throw error;
      unavailable = true;
      return undefined;
    }
  };
}
