import { describe, expect, it } from "vitest";
import { contentHash, scoreBasis, stableStringify } from "./hash.js";

describe("scoreBasis", () => {
  it("is the content hash of {completion, execution} (the basis on file in every scores.jsonl)", () => {
    const completions = ["", "42", 'quote " and \\ backslash', "ünïcødé ✓\n\tline", "\u0000\u2028"];
    const executions = [
      undefined,
      { passed: true, ended_at: "2026-12-04T10:00:00.000Z" },
      { passed: false, ended_at: "2026-01-01T00:00:00.000Z" },
      // Fields missing at run time are left out, as the general hash leaves them out.
      { passed: true } as unknown as { passed: boolean; ended_at: string },
    ];
    for (const completion of completions)
      for (const execution of executions) {
        const general = contentHash(
          {
            completion,
            execution: execution ? { passed: execution.passed, ended_at: execution.ended_at } : null,
          },
          12,
        );
        expect(scoreBasis(completion, execution)).toBe(general);
      }
    // A value fixed by the format: changing it would make every score on disk stale.
    // sha256 of {"completion":"4","execution":null}, first 12 hex digits.
    expect(scoreBasis("4")).toBe("d8a1f39c4333");
    expect(scoreBasis("4")).not.toBe(scoreBasis("4 "));
  });
});

describe("stableStringify", () => {
  /** The definition: keys sorted recursively through a copy, then JSON.stringify. */
  const reference = (value: unknown): string => {
    const sort = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(sort);
      if (v !== null && typeof v === "object") {
        const out: Record<string, unknown> = {};
        for (const key of Object.keys(v).sort()) {
          const x = (v as Record<string, unknown>)[key];
          if (x !== undefined) out[key] = sort(x);
        }
        return out;
      }
      return v;
    };
    return JSON.stringify(sort(value));
  };

  it("writes a list of messages as the sorted copy does, and falls back for anything else", () => {
    const cases: unknown[] = [
      [],
      [{ role: "user", content: "What is 2 + 2?" }],
      [
        { role: "system", content: 'quote " and \\ backslash\n' },
        { role: "user", content: "ünïcødé ✓ \u0000\u2028", name: "alice" },
      ],
      [{ content: "x", role: "user", skipped: undefined }],
      [{}],
      // Index-like keys are enumerated first by any object: the general path handles them.
      [{ b: "x", 10: "y", 9: "z" }],
      [{ role: "user", content: ["a", { type: "text", text: "t" }] }],
      [{ role: "user", n: 1 }],
      [null],
      [[{ a: "1" }]],
      [Object.assign(Object.create(null), { role: "user", content: "x" })],
      [{ toJSON: () => "replaced" }],
      [{ role: "user", content: "x", toJSON: "a string, not a method" }],
      { role: "user", content: "x" },
      "text",
      null,
    ];
    for (const value of cases) expect(stableStringify(value), JSON.stringify(value)).toBe(reference(value));
    // A prompt hash on file in every prompts.jsonl: changing it would make every prompt new.
    // Its value before this fast path existed (main at e87daa8):
    expect(contentHash([{ role: "user", content: "What is 2 + 2?" }])).toBe("0d878483b4ea7833");
    expect(contentHash([{ content: "What is 2 + 2?", role: "user" }])).toBe("0d878483b4ea7833");
    expect(
      contentHash([
        { role: "system", content: "s" },
        { role: "user", content: "ü\n" },
      ]),
    ).toBe("a9bdd827850876a8");
  });
});
