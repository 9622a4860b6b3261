import { describe, expect, it } from "vitest";
import {
  firstMissing,
  flattenMessages,
  malformedPlaceholder,
  placeholders,
  renderTemplate,
} from "./template.js";

describe("templates", () => {
  it("fills placeholders, dotted paths and non-string values", () => {
    const r = renderTemplate("Q: {{ question }} ({{meta.level}}) {{n}}", {
      question: "why?",
      meta: { level: 2 },
      n: [1],
    });
    expect(r.text).toBe("Q: why? (2) [1]");
  });

  it("reports every missing placeholder instead of rendering", () => {
    expect(renderTemplate("{{a}} {{b}} {{c}}", { b: "x" })).toEqual({ missing: ["a", "c"] });
  });

  it("issue 15: firstMissing names the placeholder renderTemplate reports first, without rendering", () => {
    const text = "{{ b }} {{meta.level}} {{a}} {{b}} {{toString}} {{n}}";
    const cases: Record<string, unknown>[] = [
      { b: "x", meta: { level: 0 }, a: "", toString: "t", n: [] },
      { meta: { level: 1 }, a: "y" },
      { b: "x", meta: {}, a: "y" },
      { b: "x", meta: { level: 2 }, a: null },
      { b: "x", meta: { level: 2 }, a: "y" },
      { b: "x", meta: { level: 2 }, a: "y", toString: "t", n: null },
    ];
    const found = cases.map((vars) => firstMissing(placeholders(text), vars));
    expect(found).toEqual([undefined, "b", "meta.level", "a", "toString", "n"]);
    expect(found).toEqual(cases.map((vars) => renderTemplate(text, vars).missing[0]));
  });

  it("lists placeholders once each", () => {
    expect(placeholders("{{a}}{{b}}{{ a }}")).toEqual(["a", "b"]);
  });

  it("flattens messages with a blank line between them", () => {
    expect(
      flattenMessages([
        { role: "system", content: "S" },
        { role: "user", content: "U" },
      ]),
    ).toBe("S\n\nU");
  });
});

describe("defect 17.3/17.4: malformed placeholders and built-in names", () => {
  it("17.3: finds unbalanced or malformed placeholders", () => {
    expect(malformedPlaceholder("{{question} and {{ answer")).toBe("{{question} and {{ answer");
    expect(malformedPlaceholder("ok {{ a }} then {{ b")).toBe("{{ b");
    expect(malformedPlaceholder("{question}} here")).toBe("{question}} here");
    expect(malformedPlaceholder("{{1abc}}")).toBe("{{1abc}}");
    expect(malformedPlaceholder("{{a}} and {{b.c}} {{{d}}}")).toBeUndefined();
    expect(malformedPlaceholder('json: {"a": {"b": 1}}')).toBeUndefined();
  });

  it("17.4: object built-ins are not values", () => {
    for (const name of ["toString", "__proto__", "constructor", "hasOwnProperty", "q.toString"])
      expect(renderTemplate(`{{${name}}}`, { q: "x" })).toEqual({ missing: [name] });
    expect(renderTemplate("{{q.length}}", { q: "abc" })).toEqual({ missing: ["q.length"] });
    expect(renderTemplate("{{a.0}}", { a: ["x"] }).text).toBe("x");
  });
});
