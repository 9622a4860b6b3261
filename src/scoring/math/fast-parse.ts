import type { Json } from "./numbers.js";

/**
 * A small LaTeX parser for the everyday subset of answers — numbers, single-letter variables,
 * `+ - \cdot \times / ^`, implicit products, `\frac`, `\sqrt`, `\sqrt[n]`, `\pi`, Greek letters,
 * brackets — producing the same MathJSON the compute engine would (after `lower`). Anything
 * else returns undefined and goes to the compute engine. Ten times faster than the engine, so
 * typical answers never load it.
 */
export function fastParse(latex: string): Json | undefined {
  const tokens = tokenize(latex);
  if (!tokens || tokens.length === 0) return undefined;
  const p = new Parser(tokens);
  const e = p.expr();
  return e !== undefined && p.done() ? e : undefined;
}

const GREEK = new Set(
  "alpha beta gamma delta epsilon theta lambda mu nu rho sigma tau phi chi psi omega".split(" "),
);

function tokenize(s: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i]!;
    if (ch === " ") {
      i++;
      continue;
    }
    const num = /^(?:\d+(?:\.\d+)?|\.\d+)/.exec(s.slice(i));
    if (num) {
      out.push(num[0]);
      i += num[0].length;
      continue;
    }
    if (ch === "\\") {
      const cmd = /^\\[a-zA-Z]+/.exec(s.slice(i))?.[0];
      if (!cmd) return undefined;
      const name = cmd.slice(1);
      if (!["frac", "sqrt", "pi", "cdot", "times", "div"].includes(name) && !GREEK.has(name))
        return undefined;
      out.push(cmd);
      i += cmd.length;
      continue;
    }
    if (/[a-zA-Z+\-*/^(){}[\]]/.test(ch)) {
      out.push(ch);
      i++;
      continue;
    }
    return undefined;
  }
  return out;
}

const isNumber = (t: string | undefined): boolean => t !== undefined && /^[\d.]/.test(t);
const startsPrimary = (t: string | undefined): boolean =>
  t !== undefined &&
  (isNumber(t) ||
    /^[a-zA-Z({]$/.test(t) ||
    (t.startsWith("\\") && !["\\cdot", "\\times", "\\div"].includes(t)));

function numberJson(t: string): Json {
  if (t.includes(".")) return Number(t.startsWith(".") ? `0${t}` : t);
  return t.length > 15 ? { num: t } : Number(t);
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: string[]) {}

  done(): boolean {
    return this.i === this.tokens.length;
  }

  private peek(): string | undefined {
    return this.tokens[this.i];
  }

  private eat(t: string): boolean {
    if (this.tokens[this.i] !== t) return false;
    this.i++;
    return true;
  }

  expr(): Json | undefined {
    const terms: Json[] = [];
    const first = this.unary();
    if (first === undefined) return undefined;
    terms.push(first);
    for (;;) {
      if (this.eat("+")) {
        const t = this.unary();
        if (t === undefined) return undefined;
        terms.push(t);
      } else if (this.eat("-")) {
        const t = this.unary();
        if (t === undefined) return undefined;
        terms.push(["Negate", t]);
      } else break;
    }
    return terms.length === 1 ? terms[0] : ["Add", ...terms];
  }

  private unary(): Json | undefined {
    if (this.eat("-")) {
      const x = this.unary();
      return x === undefined ? undefined : ["Negate", x];
    }
    if (this.eat("+")) return this.unary();
    return this.term();
  }

  private term(): Json | undefined {
    let left = this.power();
    while (left !== undefined) {
      const t = this.peek();
      if (t === "*" || t === "\\cdot" || t === "\\times") {
        this.i++;
        const right = this.power();
        left = right === undefined ? undefined : ["Multiply", left, right];
      } else if (t === "/" || t === "\\div") {
        this.i++;
        const right = this.power();
        left = right === undefined ? undefined : ["Divide", left, right];
      } else if (startsPrimary(t)) {
        const right = this.power();
        left = right === undefined ? undefined : ["Multiply", left, right];
      } else break;
    }
    return left;
  }

  private power(): Json | undefined {
    const base = this.primary();
    if (base === undefined || !this.eat("^")) return base;
    const t = this.peek();
    let exp: Json | undefined;
    if (t === "{") {
      this.i++;
      exp = this.expr();
      if (!this.eat("}")) return undefined;
    } else if (t !== undefined && isNumber(t)) {
      // `x^23` is x² · 3 in LaTeX: only the first digit is the exponent.
      this.i++;
      if (t.length > 1) {
        if (t[1] === ".") return undefined;
        this.tokens.splice(this.i, 0, t.slice(1));
      }
      exp = Number(t[0]);
    } else if (t !== undefined && /^[a-zA-Z]$/.test(t)) {
      this.i++;
      exp = this.primaryFor(t);
    } else return undefined;
    return exp === undefined ? undefined : ["Power", base, exp];
  }

  private group(open: string, close: string): Json | undefined {
    if (!this.eat(open)) return undefined;
    const e = this.expr();
    return e !== undefined && this.eat(close) ? e : undefined;
  }

  private primaryFor(t: string): Json {
    return t === "e" ? "ExponentialE" : t === "i" ? "ImaginaryUnit" : t;
  }

  private primary(): Json | undefined {
    const t = this.peek();
    if (t === undefined) return undefined;
    if (isNumber(t)) {
      this.i++;
      return numberJson(t);
    }
    if (/^[a-zA-Z]$/.test(t)) {
      this.i++;
      return this.primaryFor(t);
    }
    if (t === "(") return this.group("(", ")");
    if (t === "{") return this.group("{", "}");
    if (t === "\\pi") {
      this.i++;
      return "Pi";
    }
    if (t === "\\frac") {
      this.i++;
      const num = this.group("{", "}");
      const den = num === undefined ? undefined : this.group("{", "}");
      return num === undefined || den === undefined ? undefined : ["Divide", num, den];
    }
    if (t === "\\sqrt") {
      this.i++;
      const index = this.peek() === "[" ? this.group("[", "]") : undefined;
      const radicand = this.group("{", "}");
      if (radicand === undefined) return undefined;
      return index === undefined ? ["Sqrt", radicand] : ["Root", radicand, index];
    }
    if (t.startsWith("\\") && GREEK.has(t.slice(1))) {
      this.i++;
      return t.slice(1);
    }
    return undefined;
  }
}
