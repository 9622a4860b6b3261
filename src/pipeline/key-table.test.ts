import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IdTable, loadSamples } from "../tasks/index.js";
import { qaTask } from "../tasks/qa.js";
import { RowsInStep, SampleLookup } from "./in-step.js";
import {
  BasisTable,
  basisNumber,
  finalRows,
  type KeyScope,
  KeyTable,
  readKeyTable,
  splitKey,
} from "./key-table.js";

/** A scope over `ids` (positions in order), `samples` per item. */
function scopeOf(ids: string[], samples?: number, columns?: string[]): KeyScope {
  const table = new IdTable();
  for (const id of ids) table.add(id);
  return {
    size: table.size,
    position: (id) => table.get(id),
    ids: () => table.entries(),
    samples,
    ...(columns ? { columns } : {}),
  };
}

describe("off-heap key tables (issue 12: a whole run at 1M rows holds no per-row map)", () => {
  it("the last line and flags of each key; final rows only, in file order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "benchline-keys-"));
    const path = join(dir, "p.jsonl");
    const rows = [
      { id: "a", sample: 0, status: "error" },
      { id: "b", sample: 0, status: "ok" },
      { id: "a", sample: 0, status: "ok" },
      { id: "a", sample: 1, status: "ok" },
    ];
    writeFileSync(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const table = await readKeyTable<{ status?: unknown }>(path, (r) => (r.status === "ok" ? 1 : 0));
    expect(table.size).toBe(3);
    expect(table.isFinal("a\u00000", 3)).toBe(true);
    expect(table.isFinal("a\u00000", 1)).toBe(false);
    expect([...table.entries()]).toEqual([
      ["a\u00000", 1],
      ["b\u00000", 1],
      ["a\u00001", 1],
    ]);
    const final = [];
    for await (const { key, line } of finalRows(path, table, undefined)) final.push([splitKey(key), line]);
    expect(final).toEqual([
      [["b", 0], 2],
      [["a", 0], 3],
      [["a", 1], 4],
    ]);
    writeFileSync(path, `${JSON.stringify({ id: 1, sample: 0 })}\n`);
    await expect(readKeyTable(path)).rejects.toThrow(`${path}:1: expected a row with a string id`);
  });

  it("bases: 12 hex digits as numbers, any other basis kept as written", () => {
    const t = new BasisTable();
    t.set("k1", "0123456789ab");
    t.set("k2", "not-a-hash");
    t.set("k3", undefined);
    expect(basisNumber("ffffffffffff")).toBe(2 ** 48 - 1);
    expect(t.matches("k1", "0123456789ab")).toBe(true);
    expect(t.matches("k1", "0123456789ac")).toBe(false);
    expect(t.matches("k2", "not-a-hash")).toBe(true);
    expect(t.matches("k3", "0123456789ab")).toBe(false);
    expect(t.has("k3")).toBe(true);
    t.set("k2", "0123456789ab");
    expect(t.matches("k2", "not-a-hash")).toBe(false);
  });

  it("with a scope: keys of its items and samples are slots, any other key is kept by its bytes; last row wins", async () => {
    const dir = mkdtempSync(join(tmpdir(), "benchline-keys-"));
    const path = join(dir, "p.jsonl");
    const rows = [
      { id: "a", sample: 0, status: "error" },
      { id: "b", sample: 1, status: "ok" },
      { id: "zz", sample: 0, status: "ok" }, // not an item
      { id: "a", sample: 2, status: "ok" }, // sample out of scope
      { id: "a", sample: 0, status: "ok" },
      { id: "zz", sample: 0, status: "error" },
    ];
    writeFileSync(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const scope = scopeOf(["a", "b"], 2);
    const table = await readKeyTable<{ status?: unknown }>(
      path,
      (r) => (r.status === "ok" ? 1 : 0),
      undefined,
      scope,
    );
    expect(table.size).toBe(4);
    expect(table.isFinal("a\u00000", 5)).toBe(true);
    expect(table.isFinal("a\u00000", 1)).toBe(false); // superseded
    expect(table.flags("a\u00000")).toBe(1);
    expect(table.isFinal("zz\u00000", 6)).toBe(true);
    expect(table.isFinal("zz\u00000", 3)).toBe(false);
    expect(table.flags("zz\u00000")).toBe(0);
    expect(table.isFinal("a\u00002", 4)).toBe(true);
    expect(table.isFinal("b\u00001", 2)).toBe(true); // its only row
    expect(table.isFinal("b\u00000", 2)).toBe(false); // a slot with no row
    expect(table.flags("b\u00000")).toBeUndefined();
    expect(table.isFinal("c\u00000", 0)).toBe(false);
    expect(table.setFlags("b\u00000", 3)).toBe(false);
    expect(table.setFlags("b\u00001", 3)).toBe(true);
    expect(table.flags("b\u00001")).toBe(3);
    expect(table.isFinal("b\u00001", 2)).toBe(true);
    expect(table.setFlags("b\u00001", 1)).toBe(true);
    // Scoped keys by sample, then position; then the others as first seen.
    expect([...table.entries()]).toEqual([
      ["a\u00000", 1],
      ["b\u00001", 1],
      ["zz\u00000", 0],
      ["a\u00002", 1],
    ]);
    const final = [];
    for await (const { key, line } of finalRows(path, table, undefined)) final.push([key, line]);
    expect(final).toEqual([
      ["b\u00001", 2],
      ["a\u00002", 4],
      ["a\u00000", 5],
      ["zz\u00000", 6],
    ]);
  });

  it("a scope never maps two keys to one slot: odd sample spellings, ids with \\0, and unknown columns are kept by their bytes", () => {
    // Ids that look like keys: "a\0" + "1" would read as item "a", sample 1 if split naively.
    const scope = scopeOf(["a", "a\u00001", "7"], undefined, ["exact", "x\u0000exact"]);
    const t = new KeyTable(scope);
    const keys = [
      "a\u00001\u0000exact", // item a, sample 1
      "a\u00001\u00000\u0000exact", // item "a\0001", sample 0
      "a\u000001\u0000exact", // sample written "01": not String(1)
      "a\u0000-1\u0000exact", // negative sample
      "a\u00001e3\u0000exact",
      "a\u00001\u0000other", // a scorer that is not a column
      "a\u00001\u0000x\u0000exact", // column "x\0exact" or item "a", sample "1\0x"
      "a\u00001", // no column at all
      "7\u00000\u0000exact",
      "a\u000099999\u0000exact", // past the unbounded scope's cap
    ];
    for (const [i, key] of keys.entries()) t.set(key, i + 1, i);
    for (const [i, key] of keys.entries()) {
      expect(t.isFinal(key, i + 1)).toBe(true);
      expect(t.flags(key)).toBe(i);
    }
    expect(t.size).toBe(keys.length);
    expect(new Set([...t.entries()].map(([key]) => key))).toEqual(new Set(keys));
    // The same strings through a table without a scope agree.
    const plain = new KeyTable();
    for (const [i, key] of keys.entries()) plain.set(key, i + 1, i);
    expect([...plain.entries()].sort()).toEqual([...t.entries()].sort());
  });

  it("bases with a scope: slots for scoped keys, bytes for the rest, odd bases either way", () => {
    const t = new BasisTable(scopeOf(["k", "j"], 1, ["exact"]));
    t.set("k\u00000\u0000exact", "0123456789ab");
    t.set("k\u00000\u0000judge", "0123456789ab");
    t.set("j\u00000\u0000exact", "not-a-hash");
    t.set("j\u00000\u0000judge", undefined);
    t.set("k\u00001\u0000exact", "000000000000"); // sample out of scope; basis 0
    expect(t.size).toBe(5);
    expect(t.matches("k\u00000\u0000exact", "0123456789ab")).toBe(true);
    expect(t.matches("k\u00000\u0000exact", "0123456789ac")).toBe(false);
    expect(t.matches("k\u00000\u0000judge", "0123456789ab")).toBe(true);
    expect(t.matches("j\u00000\u0000exact", "not-a-hash")).toBe(true);
    expect(t.matches("j\u00000\u0000exact", "0123456789ab")).toBe(false);
    expect(t.has("j\u00000\u0000judge")).toBe(true);
    expect(t.matches("j\u00000\u0000judge", "0123456789ab")).toBe(false);
    expect(t.matches("k\u00001\u0000exact", "000000000000")).toBe(true);
    expect(t.has("j\u00001\u0000exact")).toBe(false);
    expect(t.matches("j\u00001\u0000exact", "000000000000")).toBe(false);
    t.set("j\u00000\u0000exact", "000000000000");
    expect(t.matches("j\u00000\u0000exact", "not-a-hash")).toBe(false);
    expect(t.matches("j\u00000\u0000exact", "000000000000")).toBe(true);
    t.set("k\u00000\u0000exact", "odd");
    expect(t.matches("k\u00000\u0000exact", "0123456789ab")).toBe(false);
    expect(t.matches("k\u00000\u0000exact", "odd")).toBe(true);
    expect(t.size).toBe(5);
  });

  it("samples in step: asked out of order and more than once, each is found; none is held after its last use", async () => {
    const dir = mkdtempSync(join(tmpdir(), "benchline-keys-"));
    const data = Array.from({ length: 6 }, (_, i) => ({ id: `q${i}`, question: `${i}?`, answer: `${i}` }));
    writeFileSync(join(dir, "d.jsonl"), data.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const dataset = await loadSamples(qaTask as never, join(dir, "d.jsonl"), { label: "d.jsonl" });
    const lookup = new SampleLookup(dataset);
    for (const id of ["q3", "q0", "q0", "q5", "q1"]) lookup.need(id);
    expect((await lookup.take("q3"))?.input).toMatchObject({ question: "3?" });
    expect((await lookup.take("q0"))?.id).toBe("q0"); // read past, held (two uses)
    expect((await lookup.take("q0"))?.id).toBe("q0");
    lookup.release("q1"); // read past and held: released
    expect((lookup as unknown as { waiting: Map<string, unknown> }).waiting.size).toBe(0);
    expect((await lookup.take("q5"))?.id).toBe("q5");
    expect(await lookup.take("nope")).toBeUndefined();
    await lookup.close();

    async function* rows() {
      for (const key of ["a", "b", "c", "d"]) yield { key, row: key.toUpperCase() };
    }
    const inStep = new RowsInStep(rows(), (key) => key !== "b");
    expect(await inStep.take("c")).toBe("C");
    expect(await inStep.take("a")).toBe("A");
    expect(await inStep.take("b")).toBeUndefined(); // not wanted: passed over, not held
  });

  it("keeps a line only for keys with several rows: a map while few, an array past an eighth of the scope; flags past 7 bits are refused", () => {
    const ids = Array.from({ length: 64 }, (_, i) => `q${i}`);
    const t = new KeyTable(scopeOf(ids, 1));
    for (const [i, id] of ids.entries()) t.set(`${id}\u00000`, i, i % 2);
    // One row each: every row is final, whatever line it is asked about is its own.
    expect(t.isFinal("q5\u00000", 5)).toBe(true);
    const repeats = (t as unknown as { repeatChunks: unknown[] }).repeatChunks;
    expect(repeats[0]).toBeUndefined();
    // A second row for a few keys: their earlier rows are no longer final.
    for (const i of [3, 4, 5]) t.set(`q${i}\u00000`, 100 + i, 1);
    expect(repeats[0]).toBeInstanceOf(Map);
    expect(t.isFinal("q3\u00000", 3)).toBe(false);
    expect(t.isFinal("q3\u00000", 103)).toBe(true);
    expect(t.isFinal("q6\u00000", 6)).toBe(true);
    // Past 64 / 8 = 8 keys with several rows, an array; the same answers.
    for (let i = 10; i < 20; i++) t.set(`q${i}\u00000`, 200 + i, 0);
    expect(repeats[0]).toBeInstanceOf(Int32Array);
    expect(t.isFinal("q3\u00000", 103)).toBe(true);
    expect(t.isFinal("q3\u00000", 3)).toBe(false);
    expect(t.isFinal("q12\u00000", 212)).toBe(true);
    expect(t.isFinal("q12\u00000", 12)).toBe(false);
    expect(t.isFinal("q30\u00000", 30)).toBe(true);
    expect(t.size).toBe(64);
    expect(t.flags("q12\u00000")).toBe(0);
    expect(t.flags("q31\u00000")).toBe(1);
    expect(() => t.set("q1\u00000", 1, 128)).toThrow(/0–127/);
  });

  it("rows appended after the table was read are not final: a key's only row stays its last (a report reading while a run appends)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "benchline-keys-"));
    const path = join(dir, "p.jsonl");
    const rows = [
      { id: "a", sample: 0, status: "ok" },
      { id: "b", sample: 0, status: "ok" },
    ];
    writeFileSync(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const table = await readKeyTable(path, () => 0, undefined, scopeOf(["a", "b"], 1));
    expect(table.lastLine).toBe(2);
    // A writer appends a second row of "a" and a row of a new key after the table was read.
    writeFileSync(
      path,
      [...rows, { id: "a", sample: 0, status: "error" }, { id: "b", sample: 0, status: "ok" }]
        .map((r) => `${JSON.stringify(r)}\n`)
        .join(""),
    );
    const final: [string, number][] = [];
    for await (const { key, line } of finalRows(path, table, undefined)) final.push([key, line]);
    expect(final).toEqual([
      ["a\u00000", 1],
      ["b\u00000", 2],
    ]);
    expect(table.isFinal("a\u00000", 3)).toBe(false);
  });

  it("bases in 6 bytes a slot agree with a table without scope at the 32- and 48-bit edges (issue 12)", () => {
    const bases = [
      "000000000000",
      "00000000ffff",
      "0000ffffffff",
      "000100000000",
      "fffffffffffe",
      "ffffffffffff",
    ];
    const ids = bases.map((_, i) => `q${i}`);
    const scoped = new BasisTable(scopeOf(ids, 1));
    const plain = new BasisTable();
    for (const [i, id] of ids.entries()) {
      scoped.set(`${id}\u00000`, bases[i]);
      plain.set(`${id}\u00000`, bases[i]);
    }
    for (const id of ids)
      for (const basis of [...bases, "odd", "FFFFFFFFFFFF"])
        expect(scoped.matches(`${id}\u00000`, basis), `${id} ${basis}`).toBe(
          plain.matches(`${id}\u00000`, basis),
        );
    expect(scoped.matches("q5\u00000", "ffffffffffff")).toBe(true);
    expect(scoped.matches("q4\u00000", "ffffffffffff")).toBe(false);
    expect(scoped.matches("q3\u00000", "000100000000")).toBe(true);
    expect(scoped.matches("q3\u00000", "000000000000")).toBe(false);
    expect(scoped.size).toBe(6);
    // From a number to another shape and back: one slot, no stale entry either way.
    scoped.set("q5\u00000", "0123456789ab");
    expect(scoped.matches("q5\u00000", "ffffffffffff")).toBe(false);
    scoped.set("q0\u00000", undefined);
    expect(scoped.has("q0\u00000")).toBe(true);
    expect(scoped.matches("q0\u00000", "000000000000")).toBe(false);
    scoped.set("q0\u00000", "000000000000");
    expect(scoped.matches("q0\u00000", "000000000000")).toBe(true);
    expect(scoped.size).toBe(6);
  });
});
