import { type Cas, loadCas, loadedCas } from "./cas.js";
import { fastParse } from "./fast-parse.js";
import { cleanAnswer, matchBrace } from "./normalize.js";
import {
  type Complex,
  evaluate,
  exactValue,
  freeVariables,
  type Json,
  parseExactNumber,
  rational,
  sameRational,
} from "./numbers.js";

/** Thrown by `equivalentSync` when only the CAS can decide; `mathEquivalent` loads it and retries. */
export class NeedsCas extends Error {}

export interface EquivalenceOptions {
  /** Seed of the random points of the numeric check. */
  seed?: number;
}

/**
 * Is `pred` mathematically the same answer as `gold`? False whenever it cannot be shown: a false
 * positive is worse than a false negative. `cas` null means "fast path only": throws NeedsCas
 * when the CAS would be needed.
 */
export function equivalentSync(
  pred: string,
  gold: string,
  cas: Cas | null,
  options: EquivalenceOptions = {},
): boolean {
  const p = cleanAnswer(pred);
  const g = cleanAnswer(gold);
  if (p.text === "" || g.text === "") return false;
  const ctx: Ctx = { cas, seed: options.seed ?? 0 };
  if (p.percent === g.percent) return compare(p.text, g.text, ctx);
  // One side wrote a percent sign: 50\% matches 50 (answers that drop the sign) and 0.5.
  if (compare(p.text, g.text, ctx)) return true;
  return p.percent
    ? compare(`\\frac{${p.text}}{100}`, g.text, ctx)
    : compare(p.text, `\\frac{${g.text}}{100}`, ctx);
}

interface Ctx {
  cas: Cas | null;
  seed: number;
}

type Structure =
  | { kind: "scalar"; text: string }
  | { kind: "list"; ordered: boolean; open: string; close: string; items: string[] }
  | { kind: "union"; parts: string[] }
  | { kind: "matrix"; rows: string[][] };

/** Without spaces, except between digits ("1 2" is not 12). */
const squash = (s: string): string =>
  s
    .trim()
    .replace(/,\s+(?=\d)/g, ",\u0001") // "1, 234" is a list, "1,234" a number
    .replace(/\s+/g, (m, at: number, all: string) =>
      /\d/.test(all[at - 1] ?? "") && /\d/.test(all[at + m.length] ?? "") ? " " : "",
    )
    .replace(/\u0001/g, " ")
    .replace(/^\+/, "");

function compare(a: string, b: string, ctx: Ctx): boolean {
  if (squash(a) === squash(b)) return true;
  const sa = structure(a);
  const sb = structure(b);
  if (sa.kind === "scalar" && sb.kind === "scalar") return compareScalar(sa.text, sb.text, ctx);
  if (sa.kind === "union" && sb.kind === "union") return matchUnordered(sa.parts, sb.parts, ctx);
  if (sa.kind === "matrix" && sb.kind === "matrix") {
    return (
      sa.rows.length === sb.rows.length &&
      sa.rows.every(
        (row, i) =>
          row.length === sb.rows[i]!.length && row.every((cell, j) => compare(cell, sb.rows[i]![j]!, ctx)),
      )
    );
  }
  if (sa.kind === "list" && sb.kind === "list") {
    if (sa.items.length !== sb.items.length) return false;
    if (!sa.ordered && !sb.ordered) return matchUnordered(sa.items, sb.items, ctx);
    if (sa.ordered !== sb.ordered || sa.open !== sb.open || sa.close !== sb.close) return false;
    return sa.items.every((item, i) => compare(item, sb.items[i]!, ctx));
  }
  return false;
}

function matchUnordered(a: string[], b: string[], ctx: Ctx): boolean {
  if (a.length !== b.length) return false;
  const used = new Array<boolean>(b.length).fill(false);
  for (const x of a) {
    const j = b.findIndex((y, k) => !used[k] && compare(x, y, ctx));
    if (j < 0) return false;
    used[j] = true;
  }
  return true;
}

// ------------------------------------------------------------------ structure

const OPEN = new Set(["(", "[", "{"]);
const CLOSE = new Set([")", "]", "}"]);

/** Splits at top-level occurrences of `sep` (outside (), [], {} and \{ \}). */
function splitTop(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "\\" && (s[i + 1] === "{" || s[i + 1] === "}")) {
      depth += s[i + 1] === "{" ? 1 : -1;
      i++;
      continue;
    }
    if (OPEN.has(ch)) depth++;
    else if (CLOSE.has(ch)) depth--;
    else if (
      depth === 0 &&
      s.startsWith(sep, i) &&
      !(sep.startsWith("\\") && /[a-zA-Z]/.test(s[i + sep.length] ?? ""))
    ) {
      parts.push(s.slice(start, i).trim());
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  parts.push(s.slice(start).trim());
  return parts;
}

/** Does the bracket at 0 close exactly at the end (so it wraps the whole string)? */
function wrapsWhole(s: string, openLen: number, closeLen: number): boolean {
  let depth = 0;
  for (let i = openLen; i < s.length - closeLen; i++) {
    const ch = s[i]!;
    if (ch === "\\" && (s[i + 1] === "{" || s[i + 1] === "}")) {
      depth += s[i + 1] === "{" ? 1 : -1;
      i++;
    } else if (OPEN.has(ch)) depth++;
    else if (CLOSE.has(ch)) depth--;
    if (depth < 0) return false;
  }
  return depth === 0;
}

const THOUSANDS = /^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;
const MATRIX = /^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?([\s\S]*)\\end\{\1\}$/;

function structure(s: string): Structure {
  s = s.trim();
  // 1,000,000 (no space after the commas: "99, 100" is a list of two numbers).
  if (THOUSANDS.test(s)) return { kind: "scalar", text: s.replace(/,/g, "") };
  const matrix = MATRIX.exec(s);
  if (matrix) {
    const rows = matrix[2]!
      .split(/\\\\/)
      .map((r) => r.trim())
      .filter((r) => r !== "")
      .map((r) => r.split("&").map((c) => c.trim()));
    return { kind: "matrix", rows };
  }
  if (/^(?:\\emptyset|\\\{\s*\\\}|\{\s*\})$/.test(s))
    return { kind: "list", ordered: false, open: "{", close: "}", items: [] };
  const interval = inequalityToInterval(s);
  if (interval) s = interval;
  const union = splitTop(s, "\\cup");
  if (union.length > 1) return { kind: "union", parts: union };
  if (s.startsWith("\\{") && s.endsWith("\\}") && wrapsWhole(s, 2, 2)) {
    const inner = s.slice(2, -2).trim();
    return {
      kind: "list",
      ordered: false,
      open: "{",
      close: "}",
      items: inner === "" ? [] : splitTop(inner, ","),
    };
  }
  if (s[0] === "{" && s.endsWith("}") && wrapsWhole(s, 1, 1)) {
    const items = splitTop(s.slice(1, -1), ",");
    if (items.length > 1) return { kind: "list", ordered: false, open: "{", close: "}", items };
  }
  if ((s[0] === "(" || s[0] === "[") && (s.endsWith(")") || s.endsWith("]")) && wrapsWhole(s, 1, 1)) {
    const items = splitTop(s.slice(1, -1), ",");
    if (items.length > 1) return { kind: "list", ordered: true, open: s[0], close: s.at(-1)!, items };
  }
  const bare = splitTop(s, ",").filter((x) => x !== "");
  if (bare.length > 1) return { kind: "list", ordered: false, open: "", close: "", items: bare };
  const pm = expandPm(s);
  if (pm) return { kind: "list", ordered: false, open: "", close: "", items: pm };
  return { kind: "scalar", text: s };
}

/** `a \pm b` → [a + b, a - b] (one ± only). */
function expandPm(s: string): string[] | undefined {
  const parts = s.split(/\\(?:pm|mp)(?![a-zA-Z])/);
  if (parts.length !== 2) return undefined;
  const [l, r] = parts as [string, string];
  return [`${l}+${r}`, `${l}-${r}`].map((x) => x.replace(/^\s*\+/, "").trim());
}

// ------------------------------------------------------------------ scalars

const VARIABLE = /^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?(?:\([a-z]\))?$/;
const WORDS = /^[a-zA-Z][a-zA-Z' -]*$/;

function compareScalar(a: string, b: string, ctx: Ctx): boolean {
  a = scalarText(a);
  b = scalarText(b);
  if (squash(a) === squash(b)) return true;
  const ea = splitTop(a, "=");
  const eb = splitTop(b, "=");
  if (ea.length > 2 || eb.length > 2) return false;
  if (ea.length === 2 || eb.length === 2) return compareEquations(ea, eb, ctx);
  if (/[<>]|\\[lg]e(?![a-zA-Z])|\\neq/.test(a + b)) return false; // inequalities: only identical text counts
  // Words (names, days, "yes"): compared as text. Letters are never multiplied together here.
  const word = (x: string): boolean => WORDS.test(x) && x.replace(/\s/g, "").length > 1;
  if (word(a) || word(b))
    return a.toLowerCase().replace(/\s+/g, " ") === b.toLowerCase().replace(/\s+/g, " ");
  const na = numberOf(a);
  const nb = numberOf(b);
  if (na && nb) return sameRational(na, nb);
  if (/\d \d/.test(squash(a)) || /\d \d/.test(squash(b))) return false; // "1 2": not a number we can read
  const ja = parseExpr(a, ctx);
  const jb = parseExpr(b, ctx);
  if (ja === undefined || jb === undefined) return false;
  return sameExpression(ja, jb, ctx);
}

function scalarText(s: string): string {
  s = s.trim();
  const choice = /^\(?\s*([A-E])\s*\)?$/.exec(s); // multiple choice: (A), A
  if (choice) return choice[1]!;
  if (s.startsWith("{") && matchBrace(s, 0) === s.length - 1) return scalarText(s.slice(1, -1));
  return s.replace(/^\+(?=\s*[\d.\\])/, "").replace(/\+\s*\\infty/g, "\\infty");
}

function numberOf(s: string): ReturnType<typeof parseExactNumber> {
  const mixed = /^(-?)(\d+)\s+(\d+)\s*\/\s*(\d+)$/.exec(s.trim()); // 2 1/2
  if (mixed) return parseExactNumber(`${mixed[1]}${mixed[2]}\\frac{${mixed[3]}}{${mixed[4]}}`);
  if (/\d\s+\d/.test(s) && !/^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$/.test(s.trim())) return undefined; // "1 2" is not 12
  const repeating = /^(-?)(\d*)\.(\d*)\\overline\{(\d+)\}$/.exec(squash(s)); // 0.1\overline{6}
  if (repeating) {
    const [, sign, whole, fixed, rep] = repeating as unknown as [string, string, string, string, string];
    const base = BigInt(`${whole || "0"}${fixed}${rep}`) - BigInt(`${whole || "0"}${fixed}`);
    const den = (10n ** BigInt(rep.length) - 1n) * 10n ** BigInt(fixed.length);
    const q = rational(sign === "-" ? -base : base, den);
    return q;
  }
  return parseExactNumber(
    /^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$/.test(s.trim()) ? s.replace(/\s/g, "") : squash(s),
  );
}

function compareEquations(ea: string[], eb: string[], ctx: Ctx): boolean {
  const simple = (side: string[]): string | undefined =>
    side.length === 2 && VARIABLE.test(squash(side[0]!)) ? squash(side[0]!) : undefined;
  const va = simple(ea);
  const vb = simple(eb);
  // `x = 5` against `5`: the value of the named variable.
  if (ea.length === 2 && eb.length === 1) return va !== undefined && compareScalar(ea[1]!, eb[0]!, ctx);
  if (eb.length === 2 && ea.length === 1) return vb !== undefined && compareScalar(ea[0]!, eb[1]!, ctx);
  if (va !== undefined && vb !== undefined) {
    if (va !== vb) return false;
    if (compareScalar(ea[1]!, eb[1]!, ctx)) return true;
  }
  // Two equations: the same up to a non-zero constant factor (2x+4y=6 and x+2y=3).
  const parts = [ea[0]!, ea[1]!, eb[0]!, eb[1]!].map((x) => parseExpr(x, ctx));
  if (parts.some((x) => x === undefined)) return false;
  const [la, ra, lb, rb] = parts as Json[];
  return proportional(["Subtract", la!, ra!], ["Subtract", lb!, rb!], ctx);
}

// ------------------------------------------------------------------ expressions

const NEEDS_CAS = new NeedsCas("the compute engine is needed");

/** MathJSON of an expression: the fast parser, else the compute engine (NeedsCas when not loaded). */
function parseExpr(latex: string, ctx: Ctx): Json | undefined {
  const fast = fastParse(latex);
  if (fast !== undefined) return fast;
  if (!ctx.cas) throw NEEDS_CAS;
  return ctx.cas.parse(latex);
}

const POINTS = 8;
const NAME = /^(?:[a-zA-Z]|[a-z][a-z]+)(?:_\w+)?$/;

function variablesOf(a: Json, b: Json): string[] | undefined {
  // The union: an identity must hold whatever the values (sin²x + cos²x is 1 for every x).
  const vars = freeVariables(b, freeVariables(a));
  if ([...vars].some((v) => !NAME.test(v))) return undefined; // Infinity, EmptySet, ...: not a number
  return [...vars].sort();
}

function close(x: Complex, y: Complex, tol: number): boolean {
  const scale = Math.max(1, Math.hypot(x[0], x[1]), Math.hypot(y[0], y[1]));
  return Math.hypot(x[0] - y[0], x[1] - y[1]) <= tol * scale;
}

const finite = (z: Complex | undefined): z is Complex =>
  z !== undefined && Number.isFinite(z[0]) && Number.isFinite(z[1]);

function sameExpression(a: Json, b: Json, ctx: Ctx): boolean {
  const vars = variablesOf(a, b);
  if (!vars) return false;
  if (vars.length === 0) {
    const xa = exactValue(a);
    const xb = exactValue(b);
    if (xa && xb) return sameRational(xa, xb);
    // A long decimal against an irrational value (1.4142135623731 vs \sqrt2) agrees to 1e-12 but
    // is not equal; a rational with a small denominator (2 vs \sqrt4) can be.
    const exactSide = xa ?? xb;
    if (exactSide && exactSide.d > 1_000_000n) return false;
    const za = evaluate(a, {});
    const zb = evaluate(b, {});
    return finite(za) && finite(zb) && close(za, zb, 1e-12);
  }
  // Long decimals on one side only are approximations (1.41421356x vs \sqrt2 x): not equal.
  if (longDecimals(a).join() !== longDecimals(b).join()) return false;
  let agreed = 0;
  for (const point of points(vars, ctx.seed)) {
    const za = evaluate(a, point);
    const zb = evaluate(b, point);
    if (!finite(za) && !finite(zb)) continue;
    if (!finite(za) || !finite(zb) || !close(za, zb, 1e-9)) return false;
    agreed++;
  }
  return agreed >= POINTS / 2;
}

function longDecimals(e: Json, into: string[] = []): string[] {
  if (typeof e === "number" && !Number.isInteger(e) && (String(e).split(".")[1]?.length ?? 0) > 6)
    into.push(String(e));
  else if (Array.isArray(e)) for (const x of e) longDecimals(x as Json, into);
  return into.sort();
}

/** f = c·g for a constant c ≠ 0 at every sampled point (equations written at different scales). */
function proportional(f: Json, g: Json, ctx: Ctx): boolean {
  const vars = variablesOf(f, g);
  if (!vars || vars.length === 0) return false;
  let ratio: Complex | undefined;
  let agreed = 0;
  for (const point of points(vars, ctx.seed)) {
    const zf = evaluate(f, point);
    const zg = evaluate(g, point);
    if (!finite(zf) || !finite(zg)) continue;
    if (Math.hypot(zg[0], zg[1]) < 1e-12) {
      if (Math.hypot(zf[0], zf[1]) < 1e-12) continue;
      return false;
    }
    const den = zg[0] * zg[0] + zg[1] * zg[1];
    const r: Complex = [(zf[0] * zg[0] + zf[1] * zg[1]) / den, (zf[1] * zg[0] - zf[0] * zg[1]) / den];
    if (Math.hypot(r[0], r[1]) < 1e-12) return false;
    if (ratio && !close(ratio, r, 1e-9)) return false;
    ratio ??= r;
    agreed++;
  }
  return agreed >= POINTS / 2;
}

/** Seeded random points: complex values, so identities that hold only for positive reals fail. */
function points(vars: string[], seed: number): Record<string, Complex>[] {
  let state = (seed ^ 0x9e3779b9) >>> 0;
  const next = (): number => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: Record<string, Complex>[] = [];
  for (let i = 0; i < POINTS; i++) {
    const p: Record<string, Complex> = {};
    for (const v of vars) p[v] = [next() * 4 - 2, i % 2 === 0 ? next() * 4 - 2 : 0];
    out.push(p);
  }
  return out;
}

/**
 * Mathematical equivalence of two final answers (already extracted). The fast path (normalised
 * text, exact rationals, structure) decides most answers; the compute engine is loaded only when
 * an expression needs it.
 */
export async function mathEquivalent(
  pred: string,
  gold: string,
  options: EquivalenceOptions = {},
): Promise<boolean> {
  // Model output is hostile: a huge "answer" is compared as text only.
  if (pred.length > MAX_ANSWER || gold.length > MAX_ANSWER) return squash(pred) === squash(gold);
  try {
    try {
      return equivalentSync(pred, gold, loadedCas(), options);
    } catch (error) {
      if (!(error instanceof NeedsCas)) throw error;
      return equivalentSync(pred, gold, await loadCas(), options);
    }
  } catch (error) {
    if (error instanceof RangeError) return false; // nesting deeper than the stack: not shown equal
    throw error;
  }
}

const MAX_ANSWER = 5000;

const LT = String.raw`<|\\le(?![a-zA-Z])|\\lt(?![a-zA-Z])`;
const GT = String.raw`>|\\ge(?![a-zA-Z])|\\gt(?![a-zA-Z])`;
const SIDE = "([^<>=]+?)";
const VAR = String.raw`\s*([a-zA-Z])\s*`;
const strict = (op: string): boolean => op === "<" || op === ">" || op === "\\lt" || op === "\\gt";

/** `x > 2` → `(2, \infty)`, `x \le 3` → `(-\infty, 3]`, `2 < x \le 5` → `(2, 5]` (one variable). */
function inequalityToInterval(s: string): string | undefined {
  let m = new RegExp(`^${SIDE}(${LT})${VAR}(${LT})${SIDE}$`).exec(s);
  if (m)
    return `${strict(m[2]!.trim()) ? "(" : "["}${m[1]!.trim()}, ${m[5]!.trim()}${strict(m[4]!.trim()) ? ")" : "]"}`;
  m = new RegExp(`^${SIDE}(${GT})${VAR}(${GT})${SIDE}$`).exec(s);
  if (m)
    return `${strict(m[4]!.trim()) ? "(" : "["}${m[5]!.trim()}, ${m[1]!.trim()}${strict(m[2]!.trim()) ? ")" : "]"}`;
  m = new RegExp(`^${VAR}(${LT}|${GT})${SIDE}$`).exec(s);
  if (!m) return undefined;
  const op = m[2]!.trim();
  const bound = m[3]!.trim();
  const less = op === "<" || op.startsWith("\\l");
  return less
    ? `(-\\infty, ${bound}${strict(op) ? ")" : "]"}`
    : `${strict(op) ? "(" : "["}${bound}, \\infty)`;
}
