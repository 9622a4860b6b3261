import type { Message } from "./records.js";

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

/** The `{{name}}` placeholders a template uses, in order of first use. */
export function placeholders(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string))];
}

/**
 * The first of a template's `placeholders` with no value in `vars` — what `renderTemplate` would
 * report first as missing — without rendering the text (a dataset's validation pass checks every
 * row this way).
 */
export function firstMissing(names: readonly string[], vars: Record<string, unknown>): string | undefined {
  for (const name of names) {
    const value = lookup(vars, name);
    if (value === undefined || value === null) return name;
  }
  return undefined;
}

/** Own fields only: `{{toString}}` or `{{__proto__}}` are names a sample does not have. */
function lookup(vars: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(vars, path)) return vars[path];
  let value: unknown = vars;
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

const OPEN = /\{\{/g;
const PLACEHOLDER_AT = /\{\{\s*[A-Za-z_][\w.-]*\s*\}\}/y;
const HALF_OPEN = /(?<!\{)\{\s*[A-Za-z_][\w.-]*\s*\}\}/;

/**
 * The first malformed placeholder of a template, as the text around it (`{{question} and`), or
 * undefined when every `{{` opens a well-formed `{{name}}` and no `{name}}` is half-open.
 */
export function malformedPlaceholder(template: string): string | undefined {
  for (const m of template.matchAll(OPEN)) {
    const at = m.index;
    // `{{{x}}}` and the like: the placeholder may start at a later brace of the run.
    if (at > 0 && template[at - 1] === "{") continue;
    let start = at;
    while (template[start + 2] === "{") start++;
    PLACEHOLDER_AT.lastIndex = start;
    if (!PLACEHOLDER_AT.test(template)) return excerpt(template, at);
  }
  const half = HALF_OPEN.exec(template);
  return half ? excerpt(template, half.index) : undefined;
}

function excerpt(text: string, at: number): string {
  const end = Math.min(text.length, at + 30);
  return `${text.slice(at, end).replace(/\s+/g, " ")}${end < text.length ? "…" : ""}`;
}

/**
 * Fills `{{field}}` (dotted paths allowed) from `vars`. Strings are inserted as they are, other
 * values as JSON. Returns the names that had no value instead of a string when any is missing.
 */
export function renderTemplate(
  template: string,
  vars: Record<string, unknown>,
): { text: string; missing: [] } | { text?: undefined; missing: string[] } {
  const missing: string[] = [];
  const text = template.replace(PLACEHOLDER, (_, name: string) => {
    const value = lookup(vars, name);
    if (value === undefined || value === null) {
      missing.push(name);
      return "";
    }
    return typeof value === "string" ? value : JSON.stringify(value);
  });
  return missing.length ? { missing } : { text, missing: [] };
}

/** Messages flattened to the text a raw completion model sees: system, blank line, user. */
export function flattenMessages(messages: readonly Message[]): string {
  return messages.map((m) => m.content).join("\n\n");
}
