import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSamples } from "../tasks/index.js";
import { qaTask } from "../tasks/qa.js";
import { RowsInStep, SampleLookup } from "./in-step.js";
import { BasisTable, basisNumber, finalRows, readKeyTable, splitKey } from "./key-table.js";

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
    expect(table.line("a\u00000")).toBe(3);
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
});
