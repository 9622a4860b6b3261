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

  it("agrees with a Map across many small buffers: ids longer than a buffer, 1-3 byte lengths, lookups that start a buffer and add nothing", () => {
    // 64-byte buffers: most groups of 16 entries straddle buffers; some ids take several.
    const table = new IdTable({ chunkBytes: 64 });
    const map = new Map<string, number>();
    let value = 0;
    const add = (id: string) => {
      expect(table.add(id, value)).toBeUndefined();
      map.set(id, value);
      value += 3;
    };
    for (let i = 0; i < 3000; i++) {
      if (i % 97 === 0)
        add("L".repeat(60 + (i % 200)) + i); // 1 or 2 bytes of length, over a buffer
      else if (i % 501 === 0)
        add("M".repeat(20_000) + i); // 3 bytes of length, 313 buffers
      else add(i % 5 === 0 ? `ü${i}🙂` : `q${i}`);
      // A miss with an id longer than what is left starts a buffer, and may leave it empty.
      if (i % 89 === 0) expect(table.get("Z".repeat(70 + (i % 300)))).toBeUndefined();
    }
    expect(table.size).toBe(map.size);
    for (const [id, v] of map) expect(table.get(id)).toBe(v);
    expect([...table.keys()]).toEqual([...map.keys()]);
    expect([...table.entries()]).toEqual([...map.entries()]);
    expect(table.has("q1x")).toBe(false);
    expect(table.has("M".repeat(20_000))).toBe(false);
    expect(table.add("q1", 5)).toBe(3);
  });

  it("keeps finding every id when its slots stop carrying hash tags", () => {
    const table = new IdTable({ taggedUpTo: 1000 });
    for (let i = 0; i < 5000; i++) table.add(`id${i % 2 ? "" : "-"}${i}`);
    for (let i = 0; i < 5000; i++) expect(table.indexOf(`id${i % 2 ? "" : "-"}${i}`)).toBe(i);
    expect(table.indexOf("id-1")).toBe(-1);
    expect(table.keyAt(4999)).toBe("id4999");
  });

  it("grows without copying its ids or offsets: a million ids take about 18 bytes each beside their bytes' 7", () => {
    const table = new IdTable();
    let idBytes = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const id = `q${i}`;
      idBytes += id.length;
      table.add(id);
    }
    // Length bytes 1, offsets 0.25, slots ≤ 4 ÷ 0.5 per id; buffers rounded up to 1 MiB.
    const perId = (table.byteSize - idBytes) / table.size;
    expect(perId).toBeLessThan(1 + 0.25 + 8 + 1.1);
    expect(table.get("q999999")).toBe(999_999);
    expect(table.keyAt(123_456)).toBe("q123456");
  });

  it("rejects a buffer size that is not a power of two", () => {
    expect(() => new IdTable({ chunkBytes: 100 })).toThrow(/power of two/);
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
