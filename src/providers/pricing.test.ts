import { describe, expect, it } from "vitest";
import { costFor, priceFor, prices } from "./pricing.js";

describe("pricing", () => {
  it("lists the common hosted models", () => {
    for (const model of ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3-mini"]) {
      expect(prices[model]).toBeDefined();
    }
    expect(prices["claude-3-5-sonnet"]).toEqual({ input: 3, output: 15 });
    expect(prices["claude-3-5-haiku"]).toEqual({ input: 0.8, output: 4 });
  });

  it("uses the longest listed prefix, so a mini model is not priced as its big sibling", () => {
    expect(priceFor("gpt-4o-mini-2024-07-18")).toEqual(prices["gpt-4o-mini"]);
    expect(priceFor("gpt-4o-2024-08-06")).toEqual(prices["gpt-4o"]);
    expect(priceFor("gpt-4.1-nano")).toEqual(prices["gpt-4.1-nano"]);
    expect(priceFor("claude-3-5-sonnet-latest")).toEqual(prices["claude-3-5-sonnet"]);
    expect(priceFor("openai/gpt-4.1-mini")).toEqual(prices["gpt-4.1-mini"]);
    expect(priceFor("gpt-4oops")).toBeUndefined(); // a prefix must end at a name boundary
    expect(priceFor("llama3.1:8b")).toBeUndefined();
  });

  it("computes USD from usage, per million tokens", () => {
    expect(costFor("gpt-4o", { prompt_tokens: 1_000_000, completion_tokens: 500_000 })).toBeCloseTo(7.5, 10);
    expect(costFor("o3-mini", { prompt_tokens: 1000, completion_tokens: 1000 })).toBeCloseTo(0.0055, 10);
    expect(costFor("unknown-model", { prompt_tokens: 1, completion_tokens: 1 })).toBeUndefined();
  });

  it("lets options.price override the table, also for unknown and local models", () => {
    const price = { input: 1, output: 2 };
    expect(costFor("gpt-4o", { prompt_tokens: 1e6, completion_tokens: 1e6 }, price)).toBe(3);
    expect(costFor(undefined, { prompt_tokens: 2e6, completion_tokens: 0 }, price)).toBe(2);
    expect(costFor("llama3.1:8b", { prompt_tokens: 5, completion_tokens: 5 }, { input: 0, output: 0 })).toBe(
      0,
    );
  });
});
