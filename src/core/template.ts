import type { Message } from "./records.js";

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

/** The `{{name}}` placeholders a template uses, in order of first use. */
export function placeholders(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string))];
}

function lookup(vars: Record<string, unknown>, path: string): unknown {
  if (path in vars) return vars[path];
  let value: unknown = vars;
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object" || !(part in value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
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
