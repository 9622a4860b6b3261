import { describe, expect, it } from "vitest";
import { contentHash, scoreBasis } from "./hash.js";

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
