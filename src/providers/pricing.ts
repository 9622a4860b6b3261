/**
 * Prices of hosted models in USD per 1M tokens, and the cost of a request. Self-hosted models
 * (vllm, ollama, llamacpp-server, command) cost 0 unless the model entry sets `options.price`.
 */
import { z } from "zod";
import type { Usage } from "../core/index.js";

export interface Price {
  /** USD per 1M input (prompt) tokens. */
  input: number;
  /** USD per 1M output (completion) tokens. */
  output: number;
}

export const priceSchema = z.object({ input: z.number().nonnegative(), output: z.number().nonnegative() });

/** Free: what self-hosted models cost. */
export const FREE: Price = { input: 0, output: 0 };

/**
 * List prices (standard tier, no batch or cache discounts) as published in mid 2025. A dated or
 * suffixed name (`gpt-4o-mini-2024-07-18`, `claude-3-5-sonnet-latest`) uses its longest listed
 * prefix; a routed name (`openai/gpt-4o`) is looked up without the router's prefix.
 */
export const prices: Readonly<Record<string, Price>> = {
  "gpt-5": { input: 1.25, output: 10 },
  "gpt-5-mini": { input: 0.25, output: 2 },
  "gpt-5-nano": { input: 0.05, output: 0.4 },
  "gpt-4.1": { input: 2, output: 8 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4 },
  "gpt-4o": { input: 2.5, output: 10 },
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "gpt-4-turbo": { input: 10, output: 30 },
  "gpt-3.5-turbo": { input: 0.5, output: 1.5 },
  o1: { input: 15, output: 60 },
  "o1-mini": { input: 1.1, output: 4.4 },
  o3: { input: 2, output: 8 },
  "o3-mini": { input: 1.1, output: 4.4 },
  "o4-mini": { input: 1.1, output: 4.4 },
  "claude-opus-4": { input: 15, output: 75 },
  "claude-sonnet-4": { input: 3, output: 15 },
  "claude-3-7-sonnet": { input: 3, output: 15 },
  "claude-3-5-sonnet": { input: 3, output: 15 },
  "claude-3-5-haiku": { input: 0.8, output: 4 },
  "claude-3-opus": { input: 15, output: 75 },
  "claude-3-haiku": { input: 0.25, output: 1.25 },
  "gemini-2.5-pro": { input: 1.25, output: 10 },
  "gemini-2.5-flash": { input: 0.3, output: 2.5 },
  "gemini-2.0-flash": { input: 0.1, output: 0.4 },
  "gemini-1.5-pro": { input: 1.25, output: 5 },
  "gemini-1.5-flash": { input: 0.075, output: 0.3 },
  "deepseek-chat": { input: 0.27, output: 1.1 },
  "deepseek-reasoner": { input: 0.55, output: 2.19 },
};

/** The price of `model`: the override, else the longest listed prefix of its name. */
export function priceFor(model: string | undefined, override?: Price): Price | undefined {
  if (override) return override;
  if (!model) return undefined;
  const name = model.slice(model.lastIndexOf("/") + 1).toLowerCase();
  let best: string | undefined;
  for (const key of Object.keys(prices)) {
    const boundary = name.length === key.length || name[key.length] === "-" || name[key.length] === ":";
    if (name.startsWith(key) && boundary && key.length > (best?.length ?? -1)) best = key;
  }
  return best === undefined ? undefined : prices[best];
}

/** USD for `usage` on `model`; undefined when the price is unknown. */
export function costFor(model: string | undefined, usage: Usage, override?: Price): number | undefined {
  const price = priceFor(model, override);
  if (!price) return undefined;
  return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1_000_000;
}
