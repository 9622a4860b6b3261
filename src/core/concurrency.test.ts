import { describe, expect, it } from "vitest";
import { forEachConcurrent, readAhead } from "./concurrency.js";

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

describe("readAhead", () => {
  /** A source that counts what was pulled and whether it was ended. */
  function counted(n: number, failAt?: number) {
    const state = { pulled: 0, returned: false };
    async function* gen() {
      try {
        for (let i = 0; i < n; i++) {
          if (i === failAt) throw new Error(`bad item ${i}`);
          state.pulled++;
          yield i;
        }
      } finally {
        state.returned = true;
      }
    }
    return { state, source: gen() };
  }
  /** A few turns of the event loop (its refills are timers). */
  const turn = () => new Promise((r) => setTimeout(r, 5));

  it("hands out every item once, in order, and the first before the rest are built", async () => {
    const { state, source } = counted(100);
    const ahead = readAhead(source, 10);
    expect(await ahead.next()).toEqual({ done: false, value: 0 });
    // The first came as soon as it was built, not after ten.
    expect(state.pulled).toBeLessThan(10);
    // Between turns it reads ahead, a quarter of its size a turn, up to its size.
    for (let i = 0; i < 10 && state.pulled < 10; i++) await turn();
    expect(state.pulled).toBeGreaterThanOrEqual(10);
    expect(state.pulled).toBeLessThanOrEqual(12);
    const rest: number[] = [];
    for await (const x of ahead) rest.push(x);
    expect(rest).toEqual(Array.from({ length: 99 }, (_, i) => i + 1));
    expect(state.returned).toBe(true);
  });

  it("serves a waiting consumer after the buffer filled and drained (no lost wake-up)", async () => {
    const { source } = counted(50);
    const ahead = readAhead(source, 4);
    const seen: number[] = [];
    // Each round drains the buffer (a refill is scheduled half way) and asks once more, which
    // refills it at once; the scheduled refill then finds it full. The next round must still be served.
    for (let round = 0; round < 10; round++) {
      await turn();
      for (let i = 0; i < 5; i++) {
        const r = await ahead.next();
        if (!r.done) seen.push(r.value);
      }
    }
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect((await ahead.next()).done).toBe(true);
  });

  it("with concurrent consumers, each item goes to exactly one of them", async () => {
    const { source } = counted(500);
    const seen: number[] = [];
    await forEachConcurrent(readAhead(source, 16), 7, async (x) => {
      if (x % 5 === 0) await turn();
      seen.push(x);
    });
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it("passes the source's error to the consumer after the items before it", async () => {
    const { source } = counted(10, 6);
    const ahead = readAhead(source, 3);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const x of ahead) seen.push(x);
      })(),
    ).rejects.toThrow("bad item 6");
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("return() drops what was read ahead and ends the source", async () => {
    const { state, source } = counted(1000);
    const ahead = readAhead(source, 8);
    await ahead.next();
    await turn();
    await ahead.return();
    expect(state.returned).toBe(true);
    expect(state.pulled).toBeLessThan(20);
    expect((await ahead.next()).done).toBe(true);
  });
});
