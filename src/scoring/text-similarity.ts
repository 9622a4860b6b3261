/**
 * Text-overlap metrics as NVIDIA's CVDP computes them for its comprehension problems
 * (`src/subjective.py`): BLEU-n is NLTK's `sentence_bleu` on whitespace tokens with uniform
 * weights and no smoothing; ROUGE-n is CVDP's own recall of distinct n-grams over the reference's
 * n-gram count, after lower-casing and deleting punctuation.
 */

/** Python's `sys.float_info.min`: what NLTK's smoothing method0 puts in place of a zero precision. */
const FLOAT_MIN = 2.2250738585072014e-308;

/** NLTK `sentence_bleu([reference.split()], hypothesis.split(), weights=[1/n]*n)`. */
export function bleu(hypothesis: string, reference: string, n = 2): number {
  const hyp = pySplit(hypothesis);
  const ref = pySplit(reference);
  const numerators: number[] = [];
  const precisions: number[] = [];
  for (let order = 1; order <= n; order++) {
    const hypCounts = countNgrams(hyp, order);
    const refCounts = countNgrams(ref, order);
    let clipped = 0;
    let total = 0;
    for (const [gram, count] of hypCounts) {
      clipped += Math.min(count, refCounts.get(gram) ?? 0);
      total += count;
    }
    numerators.push(clipped);
    precisions.push(clipped === 0 ? FLOAT_MIN : clipped / Math.max(1, total));
  }
  if (numerators[0] === 0) return 0;
  const bp = brevityPenalty(ref.length, hyp.length);
  let sum = 0;
  for (const p of precisions) if (p > 0) sum += (1 / n) * Math.log(p);
  return bp * Math.exp(sum);
}

/**
 * CVDP's `calculate_ROUGE`: distinct hypothesis n-grams found in the reference, over the number of
 * reference n-grams (with repeats). A reference shorter than n words has no n-grams: CVDP divides
 * by zero there; this returns undefined.
 */
export function rouge(hypothesis: string, reference: string, n = 2): number | undefined {
  const hyp = new Set(ngramsOf(normalizeWords(hypothesis), n));
  const refList = ngramsOf(normalizeWords(reference), n);
  if (refList.length === 0) return undefined;
  const ref = new Set(refList);
  let matching = 0;
  for (const gram of hyp) if (ref.has(gram)) matching++;
  return matching / refList.length;
}

// ---------------------------------------------------------------- internal helpers

/** Python's `str.split()` (any run of Unicode whitespace, including \x1c-\x1f). */
function pySplit(text: string): string[] {
  return text.split(/[\s\x1c-\x1f\x85]+/u).filter((w) => w !== "");
}

/** `re.sub(r'[^\w\s]', '', text.lower()).split()` */
function normalizeWords(text: string): string[] {
  return pySplit(text.toLowerCase().replace(/[^\p{L}\p{N}_\s\x1c-\x1f\x85]/gu, ""));
}

function ngramsOf(words: string[], n: number): string[] {
  const grams: string[] = [];
  for (let i = 0; i + n <= words.length; i++) grams.push(words.slice(i, i + n).join("\u0000"));
  return grams;
}

function countNgrams(words: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const gram of ngramsOf(words, n)) counts.set(gram, (counts.get(gram) ?? 0) + 1);
  return counts;
}

function brevityPenalty(refLength: number, hypLength: number): number {
  if (hypLength > refLength) return 1;
  if (hypLength === 0) return 0;
  return Math.exp(1 - refLength / hypLength);
}
