import type { Message } from "./records.js";

/** Where a too-long prompt loses text: its start, its end, or its middle. */
export type TruncationPolicy = "start" | "end" | "middle";

export interface Truncation {
  policy: TruncationPolicy;
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
