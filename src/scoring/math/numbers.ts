/** Exact rationals (BigInt) for the fast path, and a complex evaluator of MathJSON for the CAS path. */

export interface Rational {
  n: bigint;
  d: bigint;
}

const gcd = (a: bigint, b: bigint): bigint => {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
};

export function rational(n: bigint, d: bigint): Rational | undefined {
  if (d === 0n) return undefined;
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

export const sameRational = (a: Rational, b: Rational): boolean => a.n === b.n && a.d === b.d;
const mul = (a: Rational, b: Rational): Rational | undefined => rational(a.n * b.n, a.d * b.d);
const add = (a: Rational, b: Rational): Rational | undefined => rational(a.n * b.d + b.n * a.d, a.d * b.d);
const div = (a: Rational, b: Rational): Rational | undefined => rational(a.n * b.d, a.d * b.n);
export const toNumber = (r: Rational): number => Number(r.n) / Number(r.d);

/** `12`, `-3.50`, `.5`, `1.5e3`: an exact rational. */
export function parseDecimal(s: string): Rational | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/.exec(s);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return undefined;
  const frac = m[3] ?? "";
  let n = BigInt(`${m[2] || "0"}${frac}`);
  let d = 10n ** BigInt(frac.length);
  const exp = Number(m[4] ?? "0");
  if (exp > 0) n *= 10n ** BigInt(exp);
  else if (exp < 0) d *= 10n ** BigInt(-exp);
  return rational(m[1] === "-" ? -n : n, d);
}

const DEC = String.raw`\d+(?:\.\d*)?|\.\d+`;
const FRAC = new RegExp(String.raw`^([+-]?)\\frac\{([+-]?(?:${DEC}))\}\{([+-]?(?:${DEC}))\}$`);
const SLASH = new RegExp(`^([+-]?)(${DEC})/(${DEC})$`);
const MIXED = /^([+-]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$/;
const SCI = new RegExp(
  String.raw`^([+-]?(?:${DEC}))(?:\\times|\\cdot|\*|x)10\^(?:\{([+-]?\d{1,4})\}|([+-]?\d))$`,
);

/**
 * A plain number written any usual way — integer, decimal, `\frac{a}{b}`, `a/b`, mixed number
 * `2\frac{1}{2}`, scientific `1.5\times10^{3}` / `1.5e3` — as an exact rational; else undefined.
 * `s` has no spaces.
 */
export function parseExactNumber(s: string): Rational | undefined {
  const dec = parseDecimal(s);
  if (dec) return dec;
  let m = FRAC.exec(s) ?? SLASH.exec(s);
  if (m) {
    const a = parseDecimal(m[2]!);
    const b = parseDecimal(m[3]!);
    const q = a && b ? div(a, b) : undefined;
    return q && m[1] === "-" ? { n: -q.n, d: q.d } : q;
  }
  m = MIXED.exec(s);
  if (m) {
    const whole = BigInt(m[2]!);
    const num = BigInt(m[3]!);
    const den = BigInt(m[4]!);
    if (num >= den) return undefined; // `2\frac{5}{3}` is not a mixed number: let the CAS read it as a product
    const q = rational(whole * den + num, den);
    return q && m[1] === "-" ? { n: -q.n, d: q.d } : q;
  }
  m = SCI.exec(s);
  if (m) {
    const mant = parseDecimal(m[1]!);
    const exp = Number(m[2] ?? m[3]);
    if (!mant) return undefined;
    const p = 10n ** BigInt(Math.abs(exp));
    return exp >= 0 ? mul(mant, { n: p, d: 1n }) : div(mant, { n: p, d: 1n });
  }
  return undefined;
}

// ------------------------------------------------------------------ MathJSON evaluation

export type Json = number | string | { num: string } | Json[] | { [k: string]: unknown };

/** Exact value of a constant MathJSON expression built from rationals with + - * / and integer powers. */
export function exactValue(e: Json): Rational | undefined {
  if (typeof e === "number") return Number.isInteger(e) ? rational(BigInt(e), 1n) : parseDecimal(String(e));
  if (typeof e === "string") return undefined;
  if (!Array.isArray(e)) {
    const num = (e as { num?: unknown }).num;
    return typeof num === "string" ? parseDecimal(num.replace(/n$/, "")) : undefined;
  }
  const [head, ...args] = e;
  const vals = args.map(exactValue);
  if (vals.some((v) => v === undefined)) return undefined;
  const v = vals as Rational[];
  switch (head) {
    case "Rational":
    case "Divide":
      return v.length === 2 ? div(v[0]!, v[1]!) : undefined;
    case "Add":
      return v.reduce<Rational | undefined>((a, b) => (a ? add(a, b) : undefined), { n: 0n, d: 1n });
    case "Subtract":
      return v.length === 2 ? add(v[0]!, { n: -v[1]!.n, d: v[1]!.d }) : undefined;
    case "Negate":
      return v.length === 1 ? { n: -v[0]!.n, d: v[0]!.d } : undefined;
    case "Multiply":
      return v.reduce<Rational | undefined>((a, b) => (a ? mul(a, b) : undefined), { n: 1n, d: 1n });
    case "Square":
      return v.length === 1 ? mul(v[0]!, v[0]!) : undefined;
    case "Power": {
      if (v.length !== 2 || v[1]!.d !== 1n) return undefined;
      const k = v[1]!.n;
      if (k > 4000n || k < -4000n) return undefined;
      const abs = k < 0n ? -k : k;
      const p = rational(v[0]!.n ** abs, v[0]!.d ** abs);
      return p && k < 0n ? div({ n: 1n, d: 1n }, p) : p;
    }
    default:
      return undefined;
  }
}

export type Complex = [number, number];

const cmul = (a: Complex, b: Complex): Complex => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
const cdiv = (a: Complex, b: Complex): Complex => {
  const den = b[0] * b[0] + b[1] * b[1];
  return [(a[0] * b[0] + a[1] * b[1]) / den, (a[1] * b[0] - a[0] * b[1]) / den];
};
const cexp = (a: Complex): Complex => {
  const r = Math.exp(a[0]);
  return [r * Math.cos(a[1]), r * Math.sin(a[1])];
};
// `|| 0`: a negative zero imaginary part (from Negate) must not flip the branch cut.
const clog = (a: Complex): Complex => [Math.log(Math.hypot(a[0], a[1])), Math.atan2(a[1] || 0, a[0])];
const cpow = (a: Complex, b: Complex): Complex => {
  if (b[1] === 0 && Number.isInteger(b[0]) && Math.abs(b[0]) <= 64) {
    let r: Complex = [1, 0];
    for (let i = 0; i < Math.abs(b[0]); i++) r = cmul(r, a);
    return b[0] < 0 ? cdiv([1, 0], r) : r;
  }
  if (a[0] === 0 && a[1] === 0) return b[0] > 0 ? [0, 0] : [Number.NaN, 0];
  // A real cube (odd) root of a negative real is real, as in school algebra.
  if (a[1] === 0 && a[0] < 0 && b[1] === 0) {
    const inv = 1 / b[0];
    if (
      Number.isInteger(Math.round(inv)) &&
      Math.abs(inv - Math.round(inv)) < 1e-12 &&
      Math.round(inv) % 2 !== 0
    )
      return [-((-a[0]) ** b[0]), 0];
  }
  return cexp(cmul(b, clog(a)));
};
const csin = (a: Complex): Complex => [Math.sin(a[0]) * Math.cosh(a[1]), Math.cos(a[0]) * Math.sinh(a[1])];
const ccos = (a: Complex): Complex => [Math.cos(a[0]) * Math.cosh(a[1]), -Math.sin(a[0]) * Math.sinh(a[1])];

const CONSTANTS: Record<string, Complex> = {
  Pi: [Math.PI, 0],
  ExponentialE: [Math.E, 0],
  ImaginaryUnit: [0, 1],
};

const FACT = (n: number): number => {
  let r = 1;
  for (let i = 2; i <= n; i++) r *= i;
  return r;
};

/** Free variables of a MathJSON expression (constants excluded). */
export function freeVariables(e: Json, into = new Set<string>()): Set<string> {
  if (typeof e === "string") {
    if (!(e in CONSTANTS)) into.add(e);
  } else if (Array.isArray(e)) for (const a of e.slice(1)) freeVariables(a as Json, into);
  return into;
}

/** Value at a point; undefined for anything outside the supported vocabulary (then nothing is claimed). */
export function evaluate(e: Json, vars: Record<string, Complex>): Complex | undefined {
  if (typeof e === "number") return [e, 0];
  if (typeof e === "string") return CONSTANTS[e] ?? vars[e];
  if (!Array.isArray(e)) {
    const num = (e as { num?: unknown }).num;
    return typeof num === "string" ? [Number(num.replace(/n$/, "")), 0] : undefined;
  }
  const [head, ...rest] = e;
  if (head === "Complex") return [Number(rest[0]), Number(rest[1])];
  const args: Complex[] = [];
  for (const a of rest) {
    const v = evaluate(a as Json, vars);
    if (!v) return undefined;
    args.push(v);
  }
  const [a, b] = args;
  const one = args.length === 1 && a;
  const two = args.length === 2 && a && b;
  switch (head) {
    case "Add":
      return args.reduce<Complex>((x, y) => [x[0] + y[0], x[1] + y[1]], [0, 0]);
    case "Subtract":
      return two ? [a[0] - b[0], a[1] - b[1]] : undefined;
    case "Negate":
      return one ? [-a[0], -a[1]] : undefined;
    case "Multiply":
      return args.reduce<Complex>(cmul, [1, 0]);
    case "Divide":
    case "Rational":
      return two ? cdiv(a, b) : undefined;
    case "Power":
      return two ? cpow(a, b) : undefined;
    case "Square":
      return one ? cmul(a, a) : undefined;
    case "Sqrt":
      return one ? cpow(a, [0.5, 0]) : undefined;
    case "Root":
      return two ? cpow(a, cdiv([1, 0], b)) : undefined;
    case "Exp":
      return one ? cexp(a) : undefined;
    case "Ln":
      return one ? clog(a) : undefined;
    case "Log":
      return one ? cdiv(clog(a), [Math.LN10, 0]) : two ? cdiv(clog(a), clog(b)) : undefined;
    case "Lb":
      return one ? cdiv(clog(a), [Math.LN2, 0]) : undefined;
    case "Abs":
      return one ? [Math.hypot(a[0], a[1]), 0] : undefined;
    case "Sin":
      return one ? csin(a) : undefined;
    case "Cos":
      return one ? ccos(a) : undefined;
    case "Tan":
      return one ? cdiv(csin(a), ccos(a)) : undefined;
    case "Cot":
      return one ? cdiv(ccos(a), csin(a)) : undefined;
    case "Sec":
      return one ? cdiv([1, 0], ccos(a)) : undefined;
    case "Csc":
      return one ? cdiv([1, 0], csin(a)) : undefined;
    case "Arcsin":
    case "Arccos":
    case "Arctan":
      if (!one || a[1] !== 0) return undefined;
      return [head === "Arcsin" ? Math.asin(a[0]) : head === "Arccos" ? Math.acos(a[0]) : Math.atan(a[0]), 0];
    case "Factorial":
      return one && a[1] === 0 && Number.isInteger(a[0]) && a[0] >= 0 && a[0] <= 170
        ? [FACT(a[0]), 0]
        : undefined;
    case "Delimiter":
      return one ? a : undefined;
    default:
      return undefined;
  }
}
