import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { bleu, rouge } from "../src/scoring/text-similarity.js";

/**
 * BLEU-2 and ROUGE-2 checked against a Python reference: NLTK's sentence_bleu (what CVDP calls)
 * and CVDP's own ROUGE recall formula, run by /usr/bin/python3 on the same pairs.
 */
const nltk =
  spawnSync("/usr/bin/python3", ["-c", "import nltk.translate.bleu_score"], { stdio: "ignore" }).status === 0;
if (!nltk) console.warn("skipping BLEU/ROUGE reference check: nltk is not installed for /usr/bin/python3");

const pairs: [string, string][] = [
  ["The dog slept on the couch.", "The cat sat on the mat."],
  ["the cat sat on the mat", "the cat sat on the mat"],
  ["the the the the", "the cat"],
  ["cat", "the cat sat"],
  [
    "A barrel shifter rotates data_in by shift_bits; when shift_bits = DATA_WIDTH the output equals the input.",
    "Testing circular shifts with `shift_bits = DATA_WIDTH` checks if the barrel shifter wraps to the original value.",
  ],
  ["assign y = a & b;", "assign y = a | b;"],
  ["", "nothing here at all"],
  ["Ünïcödé wörds, and    tabs\tand\nnewlines — dashes", "ünïcödé wörds and tabs and newlines dashes"],
  ["x y z", "a b c"],
  ["one two three four five six seven", "one two three"],
];

const python = `
import json, re, sys, warnings
warnings.filterwarnings("ignore")
import nltk.translate.bleu_score as bleu
def ngrams(text, n):
    words = re.sub(r'[^\\w\\s]', '', text.lower()).split()
    return [tuple(words[i:i+n]) for i in range(len(words) - n + 1)]
def rouge(g, r, n):
    ref = ngrams(r, n)
    if not ref: return None
    return len(set(ngrams(g, n)) & set(ref)) / len(ref)
out = []
for g, r in json.load(sys.stdin):
    b = bleu.sentence_bleu([r.split()], g.split(), weights=[0.5, 0.5])
    out.append([float(b), rouge(g, r, 2)])
print(json.dumps(out))
`;

describe.skipIf(!nltk)("BLEU-2 / ROUGE-2 as CVDP computes them", () => {
  it("match NLTK sentence_bleu and CVDP's ROUGE recall on every pair", () => {
    const r = spawnSync("/usr/bin/python3", ["-c", python], {
      input: JSON.stringify(pairs),
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    const reference = JSON.parse(r.stdout) as [number, number | null][];
    for (const [i, [hyp, ref]] of pairs.entries()) {
      const [b, rg] = reference[i] as [number, number | null];
      expect(bleu(hyp, ref, 2), `BLEU ${i}`).toBeCloseTo(b, 12);
      if (rg === null) expect(rouge(hyp, ref, 2), `ROUGE ${i}`).toBeUndefined();
      else expect(rouge(hyp, ref, 2), `ROUGE ${i}`).toBeCloseTo(rg, 12);
    }
    // the pairs exercise more than the trivial cases
    expect(new Set(reference.map(([b]) => b.toFixed(6))).size).toBeGreaterThan(4);
  });
});
