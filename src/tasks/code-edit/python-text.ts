/**
 * Python text semantics the EditBench reference relies on, reproduced exactly: universal-newline
 * reading and `str.splitlines`.
 */

/** What `open(..., "r")` / `Path.read_text()` does to line ends: CRLF and lone CR become LF. */
export function universalNewlines(text: string): string {
  return text.replace(/\r\n?/g, "\n");
}

/** Line boundaries of Python's `str.splitlines` (besides CRLF, which is one boundary). */
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/** Python's `str.splitlines(keepends)`: splits on every Unicode line boundary, not only "\n". */
export function splitLines(text: string, keepEnds: boolean): string[] {
  const lines: string[] = [];
  let start = 0;
  for (const m of text.matchAll(LINE_BREAK)) {
    const end = m.index + m[0].length;
    lines.push(text.slice(start, keepEnds ? end : m.index));
    start = end;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

/** Python's `round` (half to even), which EditBench uses for the split index. */
export function pythonRound(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
