import { afterEach, describe, expect, it, vi } from "vitest";
import type { RunEvent } from "../pipeline/index.js";
import { createReporter, formatDuration } from "./progress.js";

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = {
    isTTY,
    columns: 100,
    write: (s: string) => chunks.push(s) > 0,
  } as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join("") };
}

const events: RunEvent[] = [
  {
    type: "experiment:start",
    name: "exp",
    dir: "/x",
    trials: 2,
    trial_names: ["a", "b"],
    items: 3,
    samples: 1,
  },
  { type: "trial:start", trial: "a", index: 0 },
  { type: "phase:start", trial: "a", phase: "inference", total: 3, done: 0 },
  { type: "row", trial: "a", phase: "inference", status: "ok", cost_usd: 0.5 },
  {
    type: "row",
    trial: "a",
    phase: "inference",
    status: "error",
    error: { code: "connection", message: "connection refused to http://127.0.0.1:9/v1" },
  },
  { type: "row", trial: "a", phase: "inference", status: "ok", cached: true },
  { type: "phase:end", trial: "a", phase: "inference", written: 3, ms: 1500 },
  { type: "trial:done", trial: "a" },
  {
    type: "trial:end",
    trial: "a",
    summary: {
      mean: 0.5,
      errors: 1,
      by_code: { connection: 1 },
      examples: { connection: "connection refused to http://127.0.0.1:9/v1" },
    },
  },
];

describe("progress reporter", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("plain mode: a line per finished phase with errors and cache hits, and the trial's result", () => {
    const { stream, text } = fakeStream(false);
    const report = createReporter("auto", stream);
    for (const e of events) report(e);
    expect(text()).toContain("exp: 2 trial(s), 3 item(s) × 1 sample(s) → /x");
    expect(text()).toContain(
      "a inference: 3 row(s) written, 1 error(s) (connection ×1 — e.g. connection: connection refused to http://127.0.0.1:9/v1), 1 cached in 1.5s",
    );
    expect(text()).toContain(
      "  a: 50.0%, 1 error(s) (connection ×1 — e.g. connection: connection refused to http://127.0.0.1:9/v1)",
    );
    expect(text()).not.toContain("\x1b[");
  });

  it("tty mode: a live block per trial with done/total, errors and cost, plus a run line", () => {
    const { stream, text } = fakeStream(true);
    vi.useFakeTimers();
    const report = createReporter("auto", stream);
    for (const e of events.slice(0, 5)) {
      vi.advanceTimersByTime(150); // redraws are throttled to one per 100 ms
      report(e);
    }
    expect(text()).toMatch(/a {2}inference \d\/3 \(\d+%\)/);
    expect(text()).toContain("errors 1");
    expect(text()).toContain("connection ×1 — e.g. connection: conn"); // cut at the terminal width
    expect(text()).toContain("$0.5000");
    expect(text()).toMatch(/run: 0\/2 trials done/);
  });

  it("json mode: one event per line", () => {
    const { stream, text } = fakeStream(true);
    const report = createReporter("json", stream);
    for (const e of events) report(e);
    const lines = text()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual(events);
  });

  it("formats durations", () => {
    expect(formatDuration(3.25)).toBe("3.3s");
    expect(formatDuration(75)).toBe("1m15s");
    expect(formatDuration(7260)).toBe("2h1m");
  });
});
