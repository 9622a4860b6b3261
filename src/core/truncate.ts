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
