import type { TokenCount } from "./contracts.js";
import type { Message } from "./records.js";

/**
 * Where a too-long prompt loses text: its start, its end, its middle, or a task's own shortener
 * (code-edit drops the last file of the code context), applied until the prompt fits.
 */
export type TruncationPolicy = "start" | "end" | "middle" | Shortener;

export interface Shortener {
  name: string;
  /** A shorter text, or the same text when nothing more can go. */
  shorten(text: string): string;
}

export interface Truncation {
  policy: string;
  /** How many times a shortener ran. */
  steps?: number;
  original_chars: number;
  kept_chars: number;
  /** With a real tokenizer: what counted, the tokens before and after, and the limit. */
  tokenizer?: string;
  original_tokens?: number;
  kept_tokens?: number;
  token_limit?: number;
}

const MARK = "\n…[truncated]…\n";

/**
 * Shortens the longest user message so the prompt fits `maxChars` (system messages are kept
 * whole). Returns the messages unchanged when they fit.
 */
export function truncateMessages(
  messages: readonly Message[],
  maxChars: number,
  policy: TruncationPolicy,
): { messages: Message[]; truncation?: Truncation } {
  const total = messages.reduce((a, m) => a + m.content.length, 0);
  if (total <= maxChars) return { messages: [...messages] };
  let index = -1;
  messages.forEach((m, i) => {
    if (m.role === "user" && (index === -1 || m.content.length > (messages[index]?.content.length ?? 0)))
      index = i;
  });
  const target = messages[index];
  if (!target) return { messages: [...messages] };
  if (typeof policy === "object") return shortenMessages(messages, index, maxChars, policy, total);
  const keep = Math.max(0, target.content.length - (total - maxChars) - MARK.length);
  const text = target.content;
  const cut =
    policy === "start"
      ? MARK.trimStart() + text.slice(text.length - keep)
      : policy === "end"
        ? text.slice(0, keep) + MARK.trimEnd()
        : text.slice(0, Math.ceil(keep / 2)) + MARK + text.slice(text.length - Math.floor(keep / 2));
  const out = messages.map((m, i) => (i === index ? { ...m, content: cut } : m));
  return {
    messages: out,
    truncation: { policy, original_chars: total, kept_chars: out.reduce((a, m) => a + m.content.length, 0) },
  };
}

/** Thrown when a task's shortener cannot make the prompt fit: the row becomes an error. */
export class ContextExceededError extends Error {
  override readonly name = "ContextExceededError";
  readonly code = "context_exceeded";
}

function shortenMessages(
  messages: readonly Message[],
  index: number,
  maxChars: number,
  policy: Shortener,
  total: number,
): { messages: Message[]; truncation: Truncation } {
  const others = total - (messages[index]?.content.length ?? 0);
  let text = messages[index]?.content ?? "";
  let steps = 0;
  while (others + text.length > maxChars) {
    const next = policy.shorten(text);
    if (next === text || next.length >= text.length) {
      throw new ContextExceededError(
        `the prompt does not fit the context (${others + text.length} characters, limit ${maxChars}) after ${steps} ${policy.name} step(s)`,
      );
    }
    text = next;
    steps++;
  }
  const out = messages.map((m, i) => (i === index ? { ...m, content: text } : m));
  return {
    messages: out,
    truncation: { policy: policy.name, steps, original_chars: total, kept_chars: others + text.length },
  };
}

export type TokenCounter = (messages: readonly Message[], prompt: string) => Promise<TokenCount | undefined>;

/**
 * Fits a prompt into `tokenLimit` tokens as the model's tokenizer counts them (`count`): unchanged
 * when it fits, else shortened by `policy` to a character budget scaled by the measured
 * characters per token, counted again, and shortened further until it fits. Without a count
 * (no tokenizer known), the estimate `fallbackChars` decides, as `truncateMessages` does.
 * Throws `ContextExceededError` when it cannot fit.
 */
export async function fitToContext(
  messages: readonly Message[],
  options: {
    tokenLimit: number;
    fallbackChars: number;
    policy: TruncationPolicy;
    count: TokenCounter | undefined;
    flatten: (messages: readonly Message[]) => string;
  },
): Promise<{ messages: Message[]; truncation?: Truncation }> {
  const { tokenLimit, policy, count, flatten } = options;
  const first = count ? await count(messages, flatten(messages)) : undefined;
  if (!first) return truncateMessages(messages, options.fallbackChars, policy);
  if (first.tokens <= tokenLimit) return { messages: [...messages] };
  const chars = messages.reduce((a, m) => a + m.content.length, 0);
  let budget = Math.floor((chars * tokenLimit) / first.tokens);
  for (let attempt = 0; attempt < 16 && budget > 0; attempt++) {
    const fitted = truncateMessages(messages, budget, policy);
    const counted = await count?.(fitted.messages, flatten(fitted.messages));
    if (!counted) return truncateMessages(messages, options.fallbackChars, policy);
    if (counted.tokens <= tokenLimit && fitted.truncation) {
      return {
        messages: fitted.messages,
        truncation: {
          ...fitted.truncation,
          tokenizer: counted.tokenizer,
          original_tokens: first.tokens,
          kept_tokens: counted.tokens,
          token_limit: tokenLimit,
        },
      };
    }
    // Still too long: a budget smaller by the overshoot, and a little more.
    budget = Math.min(budget - 1, Math.floor(((budget * tokenLimit) / counted.tokens) * 0.97));
  }
  throw new ContextExceededError(
    `the prompt does not fit the context (${first.tokens} tokens by ${first.tokenizer}, limit ${tokenLimit})`,
  );
}
