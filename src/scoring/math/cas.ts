import type { Json } from "./numbers.js";

/** LaTeX → MathJSON through the compute engine; undefined when it does not parse cleanly. */
export interface Cas {
  parse(latex: string): Json | undefined;
}

let loading: Promise<Cas> | undefined;
let loaded: Cas | null = null;

/** The compute engine when it has been loaded, else null. */
export const loadedCas = (): Cas | null => loaded;

/**
 * The CortexJS compute engine, loaded on first use (it takes ~50 ms to load and initialise; a
 * CLI command that grades nothing never pays for it).
 */
export function loadCas(): Promise<Cas> {
  loading ??= import("@cortex-js/compute-engine").then(({ ComputeEngine }) => {
    const ce = new ComputeEngine();
    const cache = new Map<string, Json | undefined>();
    loaded = {
      parse(latex: string): Json | undefined {
        if (cache.has(latex)) return cache.get(latex);
        let json: Json | undefined;
        try {
          // Not canonical: the syntax tree as written. (Canonical forms evaluate early, and got
          // 1/(1+i) wrong in testing; values are computed by our own evaluator instead.)
          const raw = ce.parse(latex, { canonical: false }).json as Json;
          json = hasError(raw) ? undefined : lower(raw);
        } catch {
          json = undefined;
        }
        if (cache.size > 10_000) cache.clear();
        cache.set(latex, json);
        return json;
      },
    };
    return loaded;
  });
  return loading;
}

function hasError(e: Json): boolean {
  if (e === "Nothing") return true;
  if (!Array.isArray(e)) return false;
  if (e[0] === "Error" || e[0] === "LatexString") return true;
  return e.some((x) => hasError(x as Json));
}

const FUNCTIONS = new Set(["Exp", "Ln", "Log", "Sin", "Cos", "Tan", "Sec", "Csc", "Cot", "Sqrt", "Abs"]);
const INVERSE: Record<string, string> = { Sin: "Arcsin", Cos: "Arccos", Tan: "Arctan" };

/** The written syntax tree in the evaluator's vocabulary; undefined for anything else. */
function lower(e: Json): Json | undefined {
  if (typeof e === "string") return e === "i" ? "ImaginaryUnit" : e === "e" ? "ExponentialE" : e;
  if (!Array.isArray(e)) return e;
  const [head, ...rest] = e;
  if (head === "At") {
    const [sym, sub] = rest;
    return typeof sym === "string" && (typeof sub === "number" || typeof sub === "string")
      ? `${sym}_${sub}`
      : undefined;
  }
  if (head === "Apply") {
    const [fn, arg] = rest as [Json, Json];
    const name = Array.isArray(fn) && fn[0] === "InverseFunction" ? INVERSE[String(fn[1])] : undefined;
    const x = arg === undefined ? undefined : lower(arg);
    return name && x !== undefined ? [name, x] : undefined;
  }
  if (head === "Delimiter") {
    if (rest.length !== 1) return undefined;
    return lower(rest[0] as Json);
  }
  const args: Json[] = [];
  for (let k = 0; k < rest.length; k++) {
    const a = rest[k] as Json;
    // `\exp(x)` reads as Exp next to a bracket: apply it.
    if (head === "InvisibleOperator" && typeof a === "string" && FUNCTIONS.has(a)) {
      const next = rest[k + 1] as Json | undefined;
      const x = next === undefined ? undefined : lower(next);
      if (x === undefined) return undefined;
      args.push([a, x]);
      k++;
      continue;
    }
    const x = lower(a);
    if (x === undefined) return undefined;
    args.push(x);
  }
  if (head === "InvisibleOperator") return args.length === 1 ? args[0]! : ["Multiply", ...args];
  return [head as string, ...args];
}
