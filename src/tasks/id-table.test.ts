import { describe, expect, it } from "vitest";
import { IdTable, IntList } from "./id-table.js";

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
    // By entry number, as keys() lists them.
    expect(table.keyAt(0)).toBe("ünï-0-🙂");
    expect(table.keyAt(1)).toBe("q1");
    expect(table.keyAt(49_999)).toBe("q49999");
    expect(table.indexOf("q49999")).toBe(49_999);
    expect(table.indexOf("q50000")).toBe(-1);
    expect(() => table.keyAt(50_000)).toThrow(RangeError);
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

  it("values default to the entry's number; a different value later keeps the earlier ones", () => {
    const table = new IdTable();
    for (let i = 0; i < 3000; i++) expect(table.add(`id${i}`)).toBeUndefined();
    expect(table.get("id0")).toBe(0);
    expect(table.get("id2999")).toBe(2999);
    // The first value that is not the entry's number: every earlier value still reads back.
    expect(table.add("other", 7)).toBeUndefined();
    expect(table.add("id5", 99)).toBe(5);
    for (let i = 3001; i < 5000; i++) table.add(`late${i}`, i * 2);
    expect(table.get("id1234")).toBe(1234);
    expect(table.get("other")).toBe(7);
    expect(table.get("late4999")).toBe(9998);
    expect(table.get("late3000")).toBeUndefined();
    expect(table.size).toBe(5000);
  });

  it("finds the empty id and ids whose bytes are prefixes of each other after rehashing", () => {
    const table = new IdTable();
    const ids = ["", "a", "aa", "aaa", "ab", "ba", "é", "e\u0301"];
    for (const [i, id] of ids.entries()) table.add(id, 100 + i);
    for (let i = 0; i < 5000; i++) table.add(`x${i}`, i);
    for (const [i, id] of ids.entries()) expect(table.get(id)).toBe(100 + i);
    expect(table.has("aaaa")).toBe(false);
  });
});

describe("IntList", () => {
  it("stores nothing while values count up from the first, then every value from the first that does not", () => {
    const list = new IntList();
    for (let i = 0; i < 3_000; i++) list.push(i + 7);
    expect((list as unknown as { items?: Int32Array }).items).toBeUndefined();
    expect(list.get(0)).toBe(7);
    expect(list.get(2_999)).toBe(3_006);
    expect(list.get(3_000)).toBeUndefined();
    expect(list.get(-1)).toBeUndefined();
    list.push(5_000); // a gap (blank lines, say)
    list.push(5_001);
    expect(list.length).toBe(3_002);
    expect((list as unknown as { items?: Int32Array }).items).toBeDefined();
    expect(list.get(1_500)).toBe(1_507);
    expect(list.get(2_999)).toBe(3_006);
    expect(list.get(3_000)).toBe(5_000);
    expect(list.get(3_001)).toBe(5_001);
  });

  it("keeps every pushed value through growth, undefined outside", () => {
    const list = new IntList();
    for (let i = 0; i < 10_000; i++) list.push(i % 2 ? -i : i * 3);
    expect(list.length).toBe(10_000);
    expect(list.get(0)).toBe(0);
    expect(list.get(9_999)).toBe(-9_999);
    expect(list.get(5_000)).toBe(15_000);
    expect(list.get(10_000)).toBeUndefined();
    expect(list.get(-1)).toBeUndefined();
  });
});
