import { describe, expect, it } from "vitest";
import { pearson, pointBiserial } from "./correlation.js";

describe("correlation", () => {
  it("pearson: exact on linear data, null when a side is constant", () => {
    expect(pearson([1, 2, 3, 4], [2, 4, 6, 8])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3, 4], [8, 6, 4, 2])).toBeCloseTo(-1, 12);
    expect(pearson([1, 1, 1], [0, 1, 0])).toBeNull();
  });

  it("point-biserial equals (M1 − M0) / s · sqrt(p·q) and its CI covers r; the same seed gives the same CI", () => {
    const x = [0.2, 1.5, 0.4, 2.2, 0.1, 1.9, 0.7, 1.1, 0.3, 2.5];
    const passed = [true, false, true, false, true, false, true, false, true, true];
    const ones = x.filter((_, i) => passed[i]);
    const zeros = x.filter((_, i) => !passed[i]);
    const m = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(x.reduce((a, v) => a + (v - m(x)) ** 2, 0) / x.length);
    const p = ones.length / x.length;
    const expected = ((m(ones) - m(zeros)) / sd) * Math.sqrt(p * (1 - p));
    const c = pointBiserial(x, passed, { seed: 3 });
    expect(c.r).toBeCloseTo(expected, 12);
    expect(c.r).toBeLessThan(-0.5);
    expect(c.low as number).toBeLessThanOrEqual(c.r as number);
    expect(c.high as number).toBeGreaterThanOrEqual(c.r as number);
    expect(pointBiserial(x, passed, { seed: 3 })).toEqual(c);
    expect(pointBiserial([1, 2], [true, false]).low).toBeNull();
  });
});
