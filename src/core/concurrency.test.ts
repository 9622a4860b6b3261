import { describe, expect, it } from "vitest";
import { forEachConcurrent } from "./concurrency.js";

describe("forEachConcurrent", () => {
  it("never exceeds the limit and processes every item once", async () => {
    let active = 0;
    let peak = 0;
    const seen: number[] = [];
    async function* items() {
      for (let i = 0; i < 50; i++) yield i;
    }
    await forEachConcurrent(items(), 4, async (i) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, i % 3));
      seen.push(i);
      active--;
    });
    expect(peak).toBe(4);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("stops pulling new items once the signal aborts", async () => {
    const controller = new AbortController();
    const started: number[] = [];
    await forEachConcurrent(
      Array.from({ length: 100 }, (_, i) => i),
      2,
      async (i) => {
        started.push(i);
        if (i === 5) controller.abort();
        await new Promise((r) => setTimeout(r, 1));
      },
      controller.signal,
    );
    expect(started.length).toBeLessThan(10);
  });

  it("rejects with the first error after in-flight work ends", async () => {
    await expect(
      forEachConcurrent([1, 2, 3], 2, async (i) => {
        if (i === 2) throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
  });
});
