import type { CheckProgress } from "../pipeline/index.js";
import type { DownloadProgress } from "../sources/index.js";
import type { LogFormat } from "./progress.js";

/**
 * Prints hub downloads on stderr: on a terminal one line redrawn in place, otherwise a line at
 * the start, every 10 % and at the end; `json`: one `{"event":"download",…}` line each time.
 */
export function downloadReporter(
  format: LogFormat,
  stream: NodeJS.WriteStream = process.stderr,
): (p: DownloadProgress) => void {
  const mode = format === "auto" ? (stream.isTTY ? "tty" : "plain") : format;
  const lastTenth = new Map<string, number>();
  return (p) => {
    if (mode === "json") {
      stream.write(`${JSON.stringify({ event: "download", ...p })}\n`);
      return;
    }
    const pct = p.total > 0 ? Math.floor((p.received / p.total) * 100) : 100;
    const line = `downloading ${p.file}  ${mib(p.received)}/${mib(p.total)} MiB (${pct}%)${p.done ? "  done" : ""}`;
    if (mode === "tty") {
      stream.write(`\r\x1b[2K${line}${p.done ? "\n" : ""}`);
      return;
    }
    const tenth = Math.floor(pct / 10);
    if (!p.done && (lastTenth.get(p.file) ?? -1) >= tenth) return;
    lastTenth.set(p.file, tenth);
    stream.write(`${line}\n`);
  };
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

/**
 * A dataset file smaller than this is checked in well under a second (a 69 MiB file of a
 * million qa rows took 2.7 s on the 2-core machine of BENCHMARKS.md), so its validation pass
 * shows no progress.
 */
export const CHECK_PROGRESS_MIN_BYTES = 16 * 2 ** 20;

/**
 * Prints the dataset's validation pass on stderr, for a file of CHECK_PROGRESS_MIN_BYTES or more
 * (nothing is sent before the whole file has been checked): on a terminal one line redrawn in
 * place at most every 100 ms, otherwise a line at the start, every 10 % and at the end; `json`:
 * one `{"event":"check",…}` line each time.
 */
export function checkReporter(
  format: LogFormat,
  stream: NodeJS.WriteStream = process.stderr,
): (p: CheckProgress) => void {
  const mode = format === "auto" ? (stream.isTTY ? "tty" : "plain") : format;
  let lastTenth = -1;
  let drawn = 0;
  return (p) => {
    if (p.total < CHECK_PROGRESS_MIN_BYTES) return;
    const pct = Math.min(100, Math.floor((p.read / p.total) * 100));
    if (mode === "tty") {
      const now = Date.now();
      if (!p.done && now - drawn < 100) return;
      drawn = now;
      stream.write(`\r\x1b[2K${checkLine(p, pct)}${p.done ? "\n" : ""}`);
      return;
    }
    const tenth = Math.floor(pct / 10);
    // 100 % is said once, by the line that says done.
    if (!p.done && (tenth <= lastTenth || pct === 100)) return;
    lastTenth = tenth;
    if (mode === "json")
      stream.write(
        `${JSON.stringify({ event: "check", file: p.file, read: p.read, total: p.total, done: p.done })}\n`,
      );
    else stream.write(`${checkLine(p, pct)}\n`);
  };
}

const checkLine = (p: CheckProgress, pct: number): string =>
  `checking ${p.file}  ${mib(p.read)}/${mib(p.total)} MiB (${pct}%)${p.done ? "  done" : ""}`;
