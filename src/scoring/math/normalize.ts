/**
 * The answer-normalisation layer: LaTeX spelling variants to one spelling, before any structure
 * or value is compared. Pure string work, no CAS.
 */

export interface Cleaned {
  text: string;
  /** The answer carried a percent sign (removed from `text`). */
  percent: boolean;
}

const UNICODE: [RegExp, string][] = [
  [/[\u2212\u2012\u2013\u2014\uFE63\uFF0D]/g, "-"],
  [/\u00D7/g, "\\times "],
  [/[\u00B7\u22C5]/g, "\\cdot "],
  [/\u00F7/g, "\\div "],
  [/\u03C0/g, "\\pi "],
  [/\u221E/g, "\\infty "],
  [/\u221A/g, "\\sqrt"],
  [/\u00B0/g, "^\\circ"],
  [/\u2264/g, "\\le "],
  [/\u2265/g, "\\ge "],
  [/\u00B1/g, "\\pm "],
  [/\u222A/g, "\\cup "],
  [/\u2229/g, "\\cap "],
  [/\u00BD/g, "\\frac{1}{2}"],
  [/\u00BC/g, "\\frac{1}{4}"],
  [/\u00BE/g, "\\frac{3}{4}"],
  [/\u2044/g, "/"],
  [/[\u00A0\u2009\u202F\u2007]/g, " "],
];

// Words that are units (or filler) when they follow a number; removed from answers.
const UNIT_WORDS = new Set(
  (
    "unit units degree degrees cm centimeter centimeters centimetre centimetres m meter meters metre metres " +
    "km kilometer kilometers mm inch inches in ft foot feet yard yards yd mile miles mi mph kph " +
    "sq square cubic dollar dollars cent cents euro euros pound pounds lb lbs kg g gram grams oz ounce ounces " +
    "s sec second seconds min minute minutes hr hrs hour hours day days week weeks month months year years " +
    "point points people persons students ways way cookies marbles apples coins times items numbers integers " +
    "l liter liters litre litres ml gallon gallons quart quarts cup cups mph percent radians rad radian"
  ).split(" "),
);

/** Unicode, delimiters, spacing, `\dfrac`, `\frac12`, `\left(`, `\text{}` units, degrees, `\$`, `%`. */
export function cleanAnswer(input: string): Cleaned {
  let s = input.normalize("NFC");
  for (const [re, by] of UNICODE) s = s.replace(re, by);
  s = s.trim();
  // Escaped backslashes from JSON-ish sources (`\\frac`) — but `\\` is also a matrix row break.
  if (!s.includes("\\begin")) s = s.replace(/\\\\(?=[a-zA-Z])/g, "\\");
  s = s.replace(/^\\\(|\\\)$/g, "").replace(/^\\\[|\\\]$/g, "");
  s = s.replace(/\\\$/g, "").replace(/\$/g, "");
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big|bigg|Bigg)(?![a-zA-Z])\s*/g, "");
  s = s.replace(/\\displaystyle|\\limits/g, "");
  s = s.replace(/\\[dt]frac(?![a-zA-Z])/g, "\\frac").replace(/\\[dt]binom(?![a-zA-Z])/g, "\\binom");
  s = s.replace(/(?<!\\)\\!/g, "");
  s = s.replace(/(?<!\\)\\(?:,|;|:|>|quad|qquad|enspace|thinspace)(?![a-zA-Z])|~/g, " ");
  s = s.replace(/\\mathbb\s*\{?R\}?/g, "(-\\infty, \\infty)");
  const boxed = /^\\(?:boxed|fbox)\s*\{([\s\S]*)\}$/.exec(s);
  if (boxed && matchBrace(s, s.indexOf("{")) === s.length - 1) s = boxed[1]!;
  s = s.replace(/(?<!\\)\\ /g, " ");
  s = s.replace(/\{,\}/g, "");
  // Degrees.
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|\^\s*\{\s*\\text\{\s*o\s*\}\s*\}/g, "");
  let percent = false;
  s = s.replace(/\\?%/g, () => {
    percent = true;
    return "";
  });
  s = unwrapText(s);
  s = fixFracs(s);
  s = s.replace(/\\sqrt\s*([0-9a-zA-Z])/g, "\\sqrt{$1}");
  // Subscripts that CE would scope wrongly: a_1 → a_{1}.
  s = s.replace(/_([0-9a-zA-Z])/g, "_{$1}");
  s = s
    .replace(/\\(?:le|leq|leqslant)(?![a-zA-Z])/g, "\\le ")
    .replace(/\\(?:ge|geq|geqslant)(?![a-zA-Z])/g, "\\ge ");
  s = s.replace(/\\(?:infty|inf|infinity)(?![a-zA-Z])/g, "\\infty ");
  s = plainMath(s);
  s = s.replace(/\\varnothing(?![a-zA-Z])/g, "\\emptyset");
  s = s.replace(/\s+/g, " ").trim();
  s = s.replace(/^[a-zA-Z]\s*\\in(?![a-zA-Z])\s*/, ""); // x \in [0, 1]
  s = s.replace(/^(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*/i, "");
  s = s.replace(/[.;]+$/, "").trim();
  s = removeUnitWords(s);
  return { text: s, percent };
}

/** `\text{..}`-like wrappers: units after a value are dropped, otherwise the content is kept. */
function unwrapText(s: string): string {
  // Connectives become list separators: "1 \text{ or } 2".
  s = s.replace(/\\(?:text|textrm|mbox)\s*\{\s*(?:or|and)\s*\}/g, ",");
  const re =
    /\\(?:text|textrm|textnormal|mbox|mathrm|textbf|mathbf|textit|mathit|emph|mathsf|texttt)\s*\{([^{}]*)\}(\s*\^\s*\{?[23]\}?)?/g;
  for (let k = 0; k < 4 && /\\(?:text|mbox|math|emph)/.test(s); k++) {
    const before = s;
    s = s.replace(re, (_whole, body: string, power: string | undefined, offset: number, str: string) => {
      const value = str.slice(0, offset).trim();
      const words = body
        .trim()
        .toLowerCase()
        .replace(/\.$/, "")
        .split(/[\s/]+/)
        .filter((w) => w !== "" && w !== "per");
      const isUnit = words.length > 0 && words.every((w) => UNIT_WORDS.has(w));
      if (value !== "" && /[0-9}).]$/.test(value) && isUnit) return "";
      return body + (power ?? "");
    });
    if (s === before) break;
  }
  return s;
}

function removeUnitWords(s: string): string {
  const m = /^(-?[0-9.,/]+(?:\\frac\{\d+\}\{\d+\})?)\s+([a-zA-Z][a-zA-Z ]*?)(?:\^?[23])?$/.exec(s);
  if (!m?.[1] || !m[2]) return s;
  const words = m[2].trim().split(/\s+/);
  return words.every((w) => UNIT_WORDS.has(w.toLowerCase())) ? m[1] : s;
}

/** `\frac12` → `\frac{1}{2}`, `\frac1{72}` → `\frac{1}{72}`, `\frac{a}b` → `\frac{a}{b}`. */
export function fixFracs(s: string): string {
  let out = "";
  let i = 0;
  while (i < s.length) {
    const at = s.indexOf("\\frac", i);
    if (at < 0 || /[a-zA-Z]/.test(s[at + 5] ?? "")) {
      if (at < 0) {
        out += s.slice(i);
        break;
      }
      out += s.slice(i, at + 5);
      i = at + 5;
      continue;
    }
    out += s.slice(i, at + 5);
    let j = at + 5;
    for (let arg = 0; arg < 2; arg++) {
      while (s[j] === " ") j++;
      if (s[j] === "{") {
        const end = matchBrace(s, j);
        if (end < 0) {
          out += s.slice(j);
          return out;
        }
        out += fixFracs(s.slice(j, end + 1));
        j = end + 1;
      } else if (s[j] === "\\") {
        const m = /^\\[a-zA-Z]+/.exec(s.slice(j));
        const cmd = m?.[0] ?? "\\";
        out += `{${cmd}}`;
        j += cmd.length;
      } else if (j < s.length) {
        out += `{${s[j]}}`;
        j++;
      }
    }
    i = j;
  }
  return out;
}

/** Index of the `}` matching the `{` at `open`, or -1. */
export function matchBrace(s: string, open: number): number {
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    const ch = s[j];
    if (ch === "\\") {
      j++;
      continue;
    }
    if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return j;
  }
  return -1;
}

// ------------------------------------------------------------------ Minerva-style normaliser

const MINERVA_SUBSTITUTIONS: [string, string][] = [
  ["an ", ""],
  ["a ", ""],
  [".$", "$"],
  ["\\$", ""],
  ["\\ ", ""],
  [" ", ""],
  ["mbox", "text"],
  [",\\text{and}", ","],
  ["\\text{and}", ","],
  ["\\text{m}", "\\text{}"],
];

const MINERVA_REMOVED = [
  "square",
  "ways",
  "integers",
  "dollars",
  "mph",
  "inches",
  "ft",
  "hours",
  "km",
  "units",
  "\\ldots",
  "sue",
  "points",
  "feet",
  "minutes",
  "digits",
  "cents",
  "degrees",
  "cm",
  "gm",
  "pounds",
  "meters",
  "meals",
  "edges",
  "students",
  "childrentickets",
  "multiples",
  "\\text{s}",
  "\\text{.}",
  "\\text{\ns}",
  "\\text{}^2",
  "\\text{}^3",
  "\\text{\n}",
  "\\text{}",
  "\\mathrm{th}",
  "^\\circ",
  "^{\\circ}",
  "\\;",
  ",\\!",
  "{,}",
  '"',
  "\\dots",
];

/**
 * The normalisation of Lewkowycz et al. 2022 (Minerva), appendix D: the text after the last `=`,
 * fixed substitutions and unit words removed, `\text{}` unwrapped, `\fracab`/`\sqrta` braced,
 * thousands separators dropped. Published MATH numbers compare answers as these strings.
 */
export function minervaNormalize(answer: string): string {
  let s = answer.split("=").at(-1) ?? "";
  for (const [from, to] of MINERVA_SUBSTITUTIONS) s = s.split(from).join(to);
  for (const word of MINERVA_REMOVED) s = s.split(word).join("");
  const dollars = /^(.*?)\$(.*?)\$(.*)$/.exec(s);
  if (dollars) s = dollars[2] ?? "";
  s = s.replace(/\\text\{(.*?)\}/g, "$1");
  s = s.replace(/\\textbf\{(.*?)\}/g, "$1");
  s = s.replace(/\\overline\{(.*?)\}/g, "$1");
  s = s.replace(/\\boxed\{(.*)\}/g, "$1");
  s = s.replace(/frac([^{])(.)/g, "frac{$1}{$2}");
  s = s.replace(/sqrt([^{])/g, "sqrt{$1}");
  s = s.replace(/\$/g, "");
  if (/^[\d,]+$/.test(s) && s.includes(",")) s = s.replace(/,/g, "");
  return s.trim();
}

/**
 * The string normaliser of Hendrycks et al. 2021 (the MATH release's `is_equiv`): spacing,
 * `\left`/`\right`, `\dfrac`, degrees, `\$`, `\text{ units}`, `\%`, leading zeros, a short `x =`,
 * `\sqrt3`, `\frac12`, `a/b` and `0.5` to `\frac{1}{2}`.
 */
export function hendrycksNormalize(answer: string): string {
  let s = answer.replace(/\n/g, "").replace(/\\!/g, "").replace(/\\\\/g, "\\");
  s = s.replace(/tfrac/g, "frac").replace(/dfrac/g, "frac");
  s = s.replace(/\\left/g, "").replace(/\\right/g, "");
  s = s.replace(/\^\{\\circ\}/g, "").replace(/\^\\circ/g, "");
  s = s.replace(/\\\$/g, "");
  if (s.includes("\\text{ ")) s = s.split("\\text{ ")[0] ?? "";
  s = s.replace(/\\%/g, "").replace(/%/g, "");
  s = s.replace(/ \./g, " 0.").replace(/\{\./g, "{0.");
  if (s === "") return s;
  if (s.startsWith(".")) s = `0${s}`;
  const eq = s.split("=");
  if (eq.length === 2 && (eq[0] ?? "").length <= 2) s = eq[1] ?? "";
  s = s.replace(/\\sqrt([^{\s\\])/g, "\\sqrt{$1}");
  s = s.replace(/ /g, "");
  s = fixFracsStrict(s);
  if (s === "0.5") s = "\\frac{1}{2}";
  const slash = /^(-?\d+)\/(-?\d+)$/.exec(s);
  if (slash) s = `\\frac{${slash[1]}}{${slash[2]}}`;
  return s;
}

// \frac12 → \frac{1}{2}, \frac1{72} → \frac{1}{72}; single characters only, as the original does.
function fixFracsStrict(s: string): string {
  return s.replace(/\\frac(?:([^{\\])([^{\\])|([^{\\])(?=\{)|(\{[^{}]*\})([^{\\]))/g, (_m, a, b, c, d, e) => {
    if (a !== undefined) return `\\frac{${a}}{${b}}`;
    if (c !== undefined) return `\\frac{${c}}`;
    return `\\frac${d}{${e}}`;
  });
}

/** Plain-text math as LaTeX: `sqrt(2)` → `\sqrt{2}`, `pi` → `\pi`, `*` → `\cdot`, `inf` → `\infty`. */
function plainMath(s: string): string {
  for (let at = s.search(/(?<![\\a-zA-Z])sqrt\(/); at >= 0; at = s.search(/(?<![\\a-zA-Z])sqrt\(/)) {
    let depth = 0;
    let end = -1;
    for (let j = at + 4; j < s.length; j++) {
      if (s[j] === "(") depth++;
      else if (s[j] === ")" && --depth === 0) {
        end = j;
        break;
      }
    }
    if (end < 0) break;
    s = `${s.slice(0, at)}\\sqrt{${s.slice(at + 5, end)}}${s.slice(end + 1)}`;
  }
  return s
    .replace(/(?<![\\a-zA-Z])pi(?![a-zA-Z])/g, "\\pi ")
    .replace(/(?<![\\a-zA-Z])(?:inf|infinity|oo)(?![a-zA-Z])/g, "\\infty ")
    .replace(/\*\*/g, "^")
    .replace(/\*/g, "\\cdot ");
}
