/**
 * Okapi BM25 as EditBench's retriever uses it (rank_bm25's `BM25Okapi`: k1 1.5, b 0.75,
 * epsilon 0.25 for negative idf, `log(N - n + .5) - log(n + .5)`) with its tokenisation
 * (`\b\w+\b|[^\w\s]` under Python's Unicode classes). An index is built once per repository
 * tree; a query may leave out documents (the files the shown edits touch), which changes N,
 * document frequencies and the average length exactly as building the index without them would.
 */

const PY_SPACE =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const TOKEN = new RegExp(`[\\p{L}\\p{N}_]+|[^\\p{L}\\p{N}_${PY_SPACE}]`, "gu");

const ASCII_TOKEN = /[A-Za-z0-9_]+|[^A-Za-z0-9_\t\n\v\f\r\x1c-\x1f ]/g;
const NON_ASCII = /[^\x00-\x7f]/;

/** The reference's `tokenize_code` (an ASCII-only fast path gives the same tokens). */
export function tokenize(text: string): string[] {
  return text.match(NON_ASCII.test(text) ? TOKEN : ASCII_TOKEN) ?? [];
}

export interface Bm25Index {
  paths: string[];
  lengths: Float64Array;
  /** term -> [doc, tf, doc, tf, ...] in document order. */
  postings: Map<string, number[]>;
  /** Documents containing each term, in `postings` order (a typed array: the idf pass is hot). */
  df: Int32Array;
  /** term -> its position in `df`. */
  termIds: Map<string, number>;
  /** Each document's distinct terms (to take a left-out document out of `df`). */
  docTerms: string[][];
  totalLength: number;
}

export function buildIndex(docs: { path: string; text: string }[]): Bm25Index {
  const postings = new Map<string, number[]>();
  const lengths = new Float64Array(docs.length);
  const docTerms: string[][] = [];
  let totalLength = 0;
  for (const [d, doc] of docs.entries()) {
    const tf = new Map<string, number>();
    const tokens = tokenize(doc.text);
    for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
    lengths[d] = tokens.length;
    totalLength += tokens.length;
    docTerms.push([...tf.keys()]);
    for (const [t, n] of tf) {
      const list = postings.get(t);
      if (list) list.push(d, n);
      else postings.set(t, [d, n]);
    }
  }
  const df = new Int32Array(postings.size);
  const termIds = new Map<string, number>();
  for (const [t, list] of postings) {
    df[termIds.size] = list.length / 2;
    termIds.set(t, termIds.size);
  }
  return { paths: docs.map((d) => d.path), lengths, postings, df, termIds, docTerms, totalLength };
}

const K1 = 1.5;
const B = 0.75;
const EPSILON = 0.25;

/** Scores of every document (0 for excluded ones, which are left out of the statistics too). */
export function scores(
  index: Bm25Index,
  query: string[],
  exclude: ReadonlySet<string> = new Set(),
): Float64Array {
  const excluded = new Uint8Array(index.paths.length);
  let n = index.paths.length;
  let total = index.totalLength;
  for (const [d, path] of index.paths.entries()) {
    if (exclude.has(path)) {
      excluded[d] = 1;
      n--;
      total -= index.lengths[d] as number;
    }
  }
  const out = new Float64Array(index.paths.length);
  if (n === 0) return out;
  const avgdl = total / n;
  // idf of every term over the kept documents, negative ones lifted to epsilon * mean idf.
  const df = index.df.slice();
  for (const [d, flag] of excluded.entries())
    if (flag)
      for (const t of index.docTerms[d] as string[]) {
        const id = index.termIds.get(t) as number;
        df[id] = (df[id] as number) - 1;
      }
  const dfOf = (t: string): number => {
    const id = index.termIds.get(t);
    return id === undefined ? 0 : (df[id] as number);
  };
  let idfSum = 0;
  let terms = 0;
  for (let i = 0; i < df.length; i++) {
    const f = df[i] as number;
    if (f === 0) continue;
    idfSum += Math.log(n - f + 0.5) - Math.log(f + 0.5);
    terms++;
  }
  const eps = EPSILON * (idfSum / terms);
  const contributions = new Map<string, Float64Array | null>();
  for (const q of query) {
    let contribution = contributions.get(q);
    if (contribution === undefined) {
      const list = index.postings.get(q);
      const f = list ? dfOf(q) : 0;
      if (!list || f === 0) contribution = null;
      else {
        let idf = Math.log(n - f + 0.5) - Math.log(f + 0.5);
        if (idf < 0) idf = eps;
        contribution = new Float64Array(list.length / 2);
        for (let i = 0; i < list.length; i += 2) {
          const d = list[i] as number;
          const tf = list[i + 1] as number;
          const dl = index.lengths[d] as number;
          contribution[i / 2] = idf * ((tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * dl) / avgdl)));
        }
      }
      contributions.set(q, contribution);
    }
    if (!contribution) continue;
    const list = index.postings.get(q) as number[];
    for (let i = 0; i < list.length; i += 2) {
      const d = list[i] as number;
      if (!excluded[d]) out[d] = (out[d] as number) + (contribution[i / 2] as number);
    }
  }
  return out;
}

/** The `topN` best documents not excluded, best first; ties keep document order (a stable sort). */
export function topN(
  index: Bm25Index,
  query: string[],
  count: number,
  exclude: ReadonlySet<string> = new Set(),
): string[] {
  const s = scores(index, query, exclude);
  const order = index.paths.map((_, d) => d).filter((d) => !exclude.has(index.paths[d] as string));
  order.sort((x, y) => (s[y] as number) - (s[x] as number));
  return order.slice(0, count).map((d) => index.paths[d] as string);
}
