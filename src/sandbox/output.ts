import { constants } from "node:os";

/**
 * Capped capture of a process's stdout/stderr. The first `limit` bytes are kept, the rest is
 * counted and dropped; a dropped tail is recorded by a marker appended to the text.
 */

/** Every note benchline appends to captured output starts with this. */
export const NOTE_PREFIX = "[benchline:";

export function truncationNote(droppedBytes: number): string {
  return `\n${NOTE_PREFIX} output truncated, ${droppedBytes} more bytes dropped]\n`;
}

export function timeoutNote(timeoutMs: number): string {
  return `\n${NOTE_PREFIX} timed out after ${timeoutMs} ms, process tree killed]\n`;
}

export const abortNote = `\n${NOTE_PREFIX} aborted, process tree killed]\n`;

const signalHints: Record<string, string> = {
  SIGKILL: "memory limit, or killed",
  SIGXCPU: "CPU-time limit reached",
  SIGXFSZ: "file-size limit reached",
  SIGSEGV: "segmentation fault",
};

/** For an exit code of 128 + N (a shell's "killed by signal N"), a note naming the signal. */
export function signalNote(exitCode: number | null): string {
  if (exitCode === null || exitCode <= 128 || exitCode > 128 + 64) return "";
  const name = Object.entries(constants.signals).find(([, number]) => number === exitCode - 128)?.[0];
  if (!name) return "";
  const hint = signalHints[name];
  return `\n${NOTE_PREFIX} exit code ${exitCode} = 128 + ${name}: killed by a signal${hint ? ` (${hint})` : ""}]\n`;
}

/** True when `text` was cut by an OutputCollector. */
export function isTruncated(text: string): boolean {
  return text.includes(`${NOTE_PREFIX} output truncated`);
}

export class OutputCollector {
  readonly limit: number;
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private dropped = 0;

  constructor(limit: number) {
    this.limit = Math.max(0, limit);
  }

  push(chunk: Buffer): void {
    const room = this.limit - this.kept;
    if (chunk.length <= room) {
      this.chunks.push(chunk);
      this.kept += chunk.length;
      return;
    }
    if (room > 0) {
      this.chunks.push(chunk.subarray(0, room));
      this.kept += room;
    }
    this.dropped += chunk.length - Math.max(room, 0);
  }

  get droppedBytes(): number {
    return this.dropped;
  }

  /** The kept bytes as UTF-8, plus a truncation note when anything was dropped. */
  text(): string {
    const text = Buffer.concat(this.chunks, this.kept).toString("utf8");
    return this.dropped > 0 ? text + truncationNote(this.dropped) : text;
  }
}
