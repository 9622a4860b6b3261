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
