import { describe, expect, it } from "vitest";
import { flattenMessages, placeholders, renderTemplate } from "./template.js";

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
