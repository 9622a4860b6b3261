import { describe, expect, it } from "vitest";
import { EQUAL, HENDRYCKS_CASES, NOT_EQUAL } from "../src/scoring/math/cases.js";
import { hendrycksNormalize, mathEquivalent } from "../src/scoring/math/index.js";

describe("math equivalence", () => {
  it.each(HENDRYCKS_CASES)("Hendrycks case $pred vs $gold (math: $math, exact: $exact)", async (c) => {
    expect(await mathEquivalent(c.pred, c.gold)).toBe(c.math);
    expect(await mathEquivalent(c.gold, c.pred)).toBe(c.math);
    expect(hendrycksNormalize(c.pred) === hendrycksNormalize(c.gold)).toBe(c.exact);
  });
  it.each(EQUAL)("%s equals %s (both directions)", async (a, b) => {
    expect(await mathEquivalent(a, b)).toBe(true);
    expect(await mathEquivalent(b, a)).toBe(true);
  });
  it.each(NOT_EQUAL)("%s is not %s (both directions)", async (a, b) => {
    expect(await mathEquivalent(a, b)).toBe(false);
    expect(await mathEquivalent(b, a)).toBe(false);
  });
});
