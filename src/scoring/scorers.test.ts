import { describe, expect, it } from "vitest";
import type { ScoreInput } from "../core/index.js";
import { normalize, resolveScorer } from "./index.js";

const input = (output: string, target: string): ScoreInput => ({
  sample: { id: "x", input: {}, target },
  completion: output,
  artifact: output,
});

const score = (name: string, output: string, target: string, options: Record<string, unknown> = {}) => {
  const { scorer, options: parsed } = resolveScorer(name, options, "test");
  return scorer.score(input(output, target), parsed);
};

describe("scorers", () => {
  it("normalises case, whitespace, punctuation and articles", () => {
    expect(normalize("  The  Pacific-Ocean! ")).toBe("pacific ocean");
  });

  it("normalises ASCII text (its fast path) exactly as the Unicode definition does", () => {
    const general = (text: string): string =>
      text
        .normalize("NFKC")
        .toLowerCase()
        .replace(/[\p{P}\p{S}]+/gu, " ")
        .replace(/\b(a|an|the)\b/g, " ")
        .replace(/\s+/g, " ")
        .trim();
    // Every ASCII character, alone and between words, then seeded random ASCII strings.
    for (let c = 0; c < 128; c++) {
      const ch = String.fromCharCode(c);
      for (const text of [ch, `a${ch}b`, `The${ch}an apple${ch}${ch}`])
        expect(normalize(text)).toBe(general(text));
    }
    let seed = 11;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const alphabet = " \t\nabcAnThe-'\".,;:!?()[]{}<>$%^&*_+=|~`@#/\\0123456789\u0000\u007f";
    for (let i = 0; i < 2000; i++) {
      let text = "";
      for (let k = next(30); k > 0; k--) text += alphabet[next(alphabet.length)];
      expect(normalize(text), JSON.stringify(text)).toBe(general(text));
    }
    // Not ASCII: the Unicode passes (NFKC folds the ligature and full-width forms; « » is punctuation).
    expect(normalize("«Ｐａｒｉｓ» ﬁne")).toBe("paris fine");
  });

  it("exact", async () => {
    expect(await score("exact", "Paris.", "paris")).toMatchObject({ value: 1, passed: true });
    expect(await score("exact", "Paris, France", "Paris")).toMatchObject({ value: 0, passed: false });
  });

  it("includes matches whole words only", async () => {
    expect(await score("includes", "It is Paris, France.", "Paris")).toMatchObject({ passed: true });
    expect(await score("includes", "Parisian", "Paris")).toMatchObject({ passed: false });
  });

  it("regex with a pattern extracts then compares; without, the target is the pattern", async () => {
    expect(
      await score("regex", "reasoning... ANSWER: 42", "42", { pattern: "ANSWER:\\s*(\\d+)" }),
    ).toMatchObject({ passed: true, detail: { extracted: "42" } });
    expect(await score("regex", "no answer here", "42", { pattern: "ANSWER:\\s*(\\d+)" })).toMatchObject({
      passed: false,
    });
    expect(await score("regex", "color", "colou?r")).toMatchObject({ passed: true });
  });

  it("numeric takes the last number and applies the tolerance", async () => {
    expect(await score("numeric", "2 + 2 = 4.0", "4")).toMatchObject({ passed: true });
    expect(await score("numeric", "about 1,024", "1024")).toMatchObject({ passed: true });
    expect(await score("numeric", "3.14", "3.14159", { tolerance: 0.01 })).toMatchObject({ passed: true });
    expect(await score("numeric", "3.14", "3.14159")).toMatchObject({ passed: false });
    expect(await score("numeric", "105", "100", { tolerance: 0.05, relative: true })).toMatchObject({
      passed: true,
    });
    expect(await score("numeric", "no digits", "1")).toMatchObject({ passed: false });
  });

  it("rejects unknown scorers and bad options with the place they were configured", () => {
    expect(() => resolveScorer("bleu", {}, "exp.yaml: scorers[2]")).toThrow(
      /exp\.yaml: scorers\[2\]: unknown scorer "bleu"/,
    );
    expect(() => resolveScorer("numeric", { tolerance: "x" }, "exp.yaml: scorers[0]")).toThrow(
      /scorers\[0\]: tolerance: expected number/,
    );
    expect(() => resolveScorer("regex", { pattern: "(" }, "exp.yaml: scorers[0]")).toThrow(
      /scorers\[0\]: pattern/,
    );
  });
});
