import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parquetWriteBuffer } from "hyparquet-writer";
import { describe, expect, it } from "vitest";
import { readJsonl } from "../core/index.js";
import { writeRowsJsonl } from "./rows.js";

describe("writeRowsJsonl: a split's files as one JSON Lines file", () => {
  it("reads Parquet (row groups, 64-bit integers), CSV, TSV, gzipped JSON Lines and JSON arrays, in order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "benchline-rows-"));
    const big = 2n ** 60n + 1n;
    writeFileSync(
      join(dir, "a.parquet"),
      Buffer.from(
        parquetWriteBuffer({
          columnData: [
            { name: "id", data: [1n, 2n, big], type: "INT64" },
            { name: "text", data: ["x", 'y, "z"', "ü"], type: "STRING" },
          ],
          rowGroupSize: 2,
        }),
      ),
    );
    writeFileSync(join(dir, "b.csv"), '\uFEFFid,text\n4,"a, b"\n5,plain\n');
    writeFileSync(join(dir, "c.tsv"), "id\ttext\n6\ttab\n");
    writeFileSync(join(dir, "d.jsonl.gz"), gzipSync('{"id":7,"text":"g"}\n{"id":8,"text":"h"}'));
    writeFileSync(join(dir, "e.json"), ' [{"id": 9, "text": "arr"}]');
    const out = join(dir, "out", "rows.jsonl");
    const files = ["a.parquet", "b.csv", "c.tsv", "d.jsonl.gz", "e.json"].map((f) => ({
      path: join(dir, f),
      label: f,
    }));
    await writeRowsJsonl(files, out);
    expect(readFileSync(out, "utf8").split("\n")[2]).toBe(`{"id":${big},"text":"ü"}`);
    const rows: unknown[] = [];
    for await (const { value } of readJsonl(out, { label: "rows" })) rows.push(value);
    expect(rows).toEqual([
      { id: 1, text: "x" },
      { id: 2, text: 'y, "z"' },
      { id: big.toString(), text: "ü" },
      { id: "4", text: "a, b" },
      { id: "5", text: "plain" },
      { id: "6", text: "tab" },
      { id: 7, text: "g" },
      { id: 8, text: "h" },
      { id: 9, text: "arr" },
    ]);
  });

  it("a broken file is an input error naming it, and no partial output is left", async () => {
    const dir = mkdtempSync(join(tmpdir(), "benchline-rows-"));
    writeFileSync(join(dir, "bad.parquet"), "not parquet at all");
    const out = join(dir, "rows.jsonl");
    await expect(
      writeRowsJsonl([{ path: join(dir, "bad.parquet"), label: "hf:o/n/bad.parquet" }], out),
    ).rejects.toThrow("hf:o/n/bad.parquet: cannot read parquet");
    expect(() => readFileSync(out)).toThrow();
  });
});
