import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BenchlineError } from "./errors.js";
import { JsonlWriter, readJsonl, repairTail } from "./jsonl.js";

const tmp = (name: string, content: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), "jsonl-")), name);
  writeFileSync(path, content);
  return path;
};

async function collect<T>(iterable: AsyncIterable<{ value: T; line: number }>) {
  const out: { value: T; line: number }[] = [];
  for await (const row of iterable) out.push(row);
  return out;
}

describe("readJsonl", () => {
  it("streams rows with their line numbers, skipping blank lines and CRLF endings", async () => {
    const path = tmp("a.jsonl", '{"a":1}\r\n\n{"a":2}\n{"a":3}');
    expect(await collect(readJsonl(path))).toEqual([
      { value: { a: 1 }, line: 1 },
      { value: { a: 2 }, line: 3 },
      { value: { a: 3 }, line: 4 },
    ]);
  });

  it("names file:line for a malformed line in the middle", async () => {
    const path = tmp("data.jsonl", '{"a":1}\n{"a":2}\nnot json\n{"a":4}\n');
    await expect(collect(readJsonl(path, { label: "data.jsonl" }))).rejects.toThrow(
      /^data\.jsonl:3: not valid JSON/,
    );
  });

  it("names file:line and the field when a row does not fit the schema", async () => {
    const path = tmp("d.jsonl", '{"q":"x"}\n{"q":3}\n');
    const schema = z.object({ q: z.string() });
    const error = await collect(readJsonl(path, { schema, label: "d.jsonl" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BenchlineError);
    expect((error as Error).message).toMatch(/^d\.jsonl:2: q: expected string/);
  });

  it("skips a torn final line and reports it", async () => {
    const path = tmp("t.jsonl", '{"a":1}\n{"a":2}\n{"a":');
    const torn: number[] = [];
    const rows = await collect(readJsonl(path, { onTorn: (l) => torn.push(l) }));
    expect(rows.map((r) => r.value)).toEqual([{ a: 1 }, { a: 2 }]);
    expect(torn).toEqual([3]);
  });

  it("reads multi-byte characters split across chunk boundaries", async () => {
    const long = "é".repeat(70_000); // > one 64 KiB chunk, 2 bytes per char
    const path = tmp("u.jsonl", `${JSON.stringify({ s: long })}\n`);
    const rows = await collect(readJsonl<{ s: string }>(path));
    expect(rows[0]?.value.s).toBe(long);
  });

  it("reads a chunk's lines at once as it read them one by one: lines across chunks, BOM, CRLF, blanks", async () => {
    // A seeded mix of short rows, blank lines, CRLF endings, multi-byte text and rows longer than
    // the 64 KiB read chunk, so line and chunk boundaries fall everywhere.
    let seed = 7;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const lines: string[] = [];
    const expected: { value: unknown; line: number }[] = [];
    for (let i = 0; i < 3000; i++) {
      const kind = next(20);
      if (kind === 0) {
        lines.push(kind === 0 && next(2) === 0 ? "" : "   ");
        continue;
      }
      const text = kind === 1 ? "ü✓".repeat(20_000 + next(30_000)) : `row ${i} ${"é".repeat(next(40))}`;
      const value = { id: `r${i}`, text };
      lines.push(JSON.stringify(value) + (kind === 2 ? "\r" : ""));
      expected.push({ value, line: lines.length });
    }
    const path = tmp("mix.jsonl", `\ufeff${lines.join("\n")}\n`);
    expect(await collect(readJsonl(path))).toEqual(expected);
  });

  it("names the line that is not UTF-8 inside a chunk, after handing over the rows before it", async () => {
    const rows = Array.from({ length: 50 }, (_, i) => `{"i":${i}}`);
    const bytes = Buffer.concat([
      Buffer.from(`${rows.join("\n")}\n`),
      Buffer.from([0x7b, 0x22, 0x69, 0x22, 0x3a, 0xff, 0x7d, 0x0a]), // {"i":<0xff>} on line 51
      Buffer.from(`${rows.join("\n")}\n`),
    ]);
    const path = join(mkdtempSync(join(tmpdir(), "jsonl-")), "bad.jsonl");
    writeFileSync(path, bytes);
    const seen: number[] = [];
    const error = await (async () => {
      for await (const row of readJsonl(path, { label: "bad.jsonl" })) seen.push(row.line);
    })().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^bad\.jsonl:51: not valid UTF-8 \(byte 6 of the line\)/);
    expect(seen).toEqual(rows.map((_, i) => i + 1));
  });

  it("hands over a chunk's rows before the bad line's error", async () => {
    const path = tmp("m.jsonl", '{"a":1}\n{"a":2}\nnot json\n{"a":4}\n');
    const seen: unknown[] = [];
    const error = await (async () => {
      for await (const row of readJsonl(path, { label: "m.jsonl" })) seen.push(row.value);
    })().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^m\.jsonl:3: not valid JSON/);
    expect(seen).toEqual([{ a: 1 }, { a: 2 }]);
  });
});

describe("JsonlWriter", () => {
  it("appends rows that are on disk as soon as write returns", () => {
    const path = tmp("w.jsonl", "");
    const writer = JsonlWriter.open(path);
    writer.write({ id: "a" });
    expect(readFileSync(path, "utf8")).toBe('{"id":"a"}\n');
    writer.write({ id: "b" });
    writer.close();
    expect(readFileSync(path, "utf8")).toBe('{"id":"a"}\n{"id":"b"}\n');
  });

  it("repairs a torn final line on open: cut when invalid, newline added when complete", () => {
    const torn = tmp("torn.jsonl", '{"id":"a"}\n{"id":"b"}\n{"id":"c","x":');
    expect(repairTail(torn)).toBe("truncated");
    expect(readFileSync(torn, "utf8")).toBe('{"id":"a"}\n{"id":"b"}\n');

    const complete = tmp("complete.jsonl", '{"id":"a"}\n{"id":"b"}');
    const writer = JsonlWriter.open(complete);
    writer.write({ id: "c" });
    writer.close();
    expect(readFileSync(complete, "utf8")).toBe('{"id":"a"}\n{"id":"b"}\n{"id":"c"}\n');
  });

  it("repairs a torn line longer than the repair block", () => {
    const path = tmp("big.jsonl", '{"id":"a"}\n');
    appendFileSync(path, `{"s":"${"x".repeat(200_000)}`);
    expect(repairTail(path)).toBe("truncated");
    expect(readFileSync(path, "utf8")).toBe('{"id":"a"}\n');
  });
});
