import { describe, expect, it } from "vitest";
import { IdTable } from "./id-table.js";

describe("IdTable", () => {
  it("agrees with a Map over many ids, through growth and rehashing, in insertion order", () => {
    const table = new IdTable();
    const map = new Map<string, number>();
    for (let i = 0; i < 50_000; i++) {
      const id = i % 7 === 0 ? `ünï-${i}-🙂` : `q${i}`;
      expect(table.add(id, i)).toBeUndefined();
      map.set(id, i);
    }
    expect(table.size).toBe(map.size);
    for (const [id, value] of map) expect(table.get(id)).toBe(value);
    expect([...table.keys()]).toEqual([...map.keys()]);
    // Prefixes and extensions of stored ids are different ids.
    expect(table.has("q1")).toBe(true);
    expect(table.has("q")).toBe(false);
    expect(table.has("q100000")).toBe(false);
    expect(table.get("ünï-7-🙂x")).toBeUndefined();
  });

  it("a second add of an id returns the first value and stores nothing", () => {
    const table = new IdTable();
    expect(table.add("a", 3)).toBeUndefined();
    expect(table.add("b", 4)).toBeUndefined();
    expect(table.add("a", 9)).toBe(3);
    expect(table.size).toBe(2);
    expect(table.get("a")).toBe(3);
    expect([...table.keys()]).toEqual(["a", "b"]);
  });

  it("holds a long id that is bigger than its buffer", () => {
    const table = new IdTable();
    const long = "x".repeat(200_000);
    table.add("short", 1);
    table.add(long, 2);
    expect(table.get(long)).toBe(2);
    expect(table.get("short")).toBe(1);
    expect([...table.keys()]).toEqual(["short", long]);
  });
});
