import type { RunEvent } from "../pipeline/index.js";

export type LogFormat = "auto" | "tty" | "plain" | "json";

interface PhaseState {
  trial: string;
  phase: string;
  total: number;
  done: number;
  errors: number;
  cached: number;
  cost: number;
  started: number;
  startDone: number;
}

/**
 * Turns run events into output on stderr: a redrawn progress line on a terminal, a line every few
 * seconds otherwise (CI logs), or one JSON object per event.
 */
export function createReporter(
  format: LogFormat,
  stream: NodeJS.WriteStream = process.stderr,
  intervalMs = 5000,
) {
  const mode = format === "auto" ? (stream.isTTY ? "tty" : "plain") : format;
  let state: PhaseState | undefined;
  let trialCount = 0;
  let trialIndex = 0;
  let lastPlain = 0;
  let lastDraw = 0;

  const line = (s: PhaseState): string => {
    const elapsed = (Date.now() - s.started) / 1000;
    const rate = elapsed > 0 ? (s.done - s.startDone) / elapsed : 0;
    const remaining = s.total - s.done;
    const eta = rate > 0 ? `${formatDuration(remaining / rate)}` : "–";
    const pct = s.total === 0 ? 100 : Math.floor((s.done / s.total) * 100);
    const extras = [`${rate.toFixed(1)}/s`, `errors ${s.errors}`];
    if (s.cached) extras.push(`cached ${s.cached}`);
    if (s.cost) extras.push(`$${s.cost.toFixed(4)}`);
    return `[${trialIndex + 1}/${trialCount}] ${s.trial} ${s.phase} ${s.done}/${s.total} ${pct}% ${extras.join(" ")} ETA ${eta}`;
  };
  const bar = (s: PhaseState): string => {
    const width = 24;
    const filled = s.total === 0 ? width : Math.round((s.done / s.total) * width);
    return `${"█".repeat(filled)}${"░".repeat(width - filled)} ${line(s)}`;
  };
  const draw = (force = false): void => {
    if (!state) return;
    const now = Date.now();
    if (mode === "tty" && (force || now - lastDraw > 80)) {
      lastDraw = now;
      const cols = stream.columns ?? 120;
      stream.write(`\r\x1b[2K${bar(state).slice(0, cols - 1)}`);
    } else if (mode === "plain" && (force || now - lastPlain >= intervalMs)) {
      lastPlain = now;
      stream.write(`${line(state)}\n`);
    }
  };
  const clear = (): void => {
    if (mode === "tty") stream.write("\r\x1b[2K");
  };

  return (event: RunEvent): void => {
    if (mode === "json") {
      stream.write(`${JSON.stringify(event)}\n`);
      return;
    }
    switch (event.type) {
      case "experiment:start":
        trialCount = event.trials;
        stream.write(
          `${event.name}: ${event.trials} trial(s), ${event.items} item(s) × ${event.samples} sample(s) → ${event.dir}\n`,
        );
        break;
      case "trial:start":
        trialIndex = event.index;
        break;
      case "phase:start":
        state = {
          trial: event.trial,
          phase: event.phase,
          total: event.total,
          done: event.done,
          errors: 0,
          cached: 0,
          cost: 0,
          started: Date.now(),
          startDone: event.done,
        };
        lastPlain = Date.now();
        if (mode === "tty" && event.total > 0 && event.done < event.total) draw(true);
        break;
      case "row":
        if (!state) break;
        state.done++;
        if (event.status === "error") state.errors++;
        if (event.cached) state.cached++;
        if (event.cost_usd) state.cost += event.cost_usd;
        draw();
        break;
      case "phase:end":
        if (state && event.written > 0) {
          clear();
          const errors = state.errors ? `, ${state.errors} error(s)` : "";
          const cached = state.cached ? `, ${state.cached} cached` : "";
          stream.write(
            `[${trialIndex + 1}/${trialCount}] ${state.trial} ${state.phase}: ${event.written} row(s) written${errors}${cached} in ${formatDuration(event.ms / 1000)}\n`,
          );
        }
        state = undefined;
        break;
      case "trial:end": {
        const mean = event.summary.mean;
        stream.write(
          `  ${event.trial}: ${mean === null || mean === undefined ? "–" : `${(mean * 100).toFixed(1)}%`}${event.summary.errors ? `, ${event.summary.errors} error(s)` : ""}\n`,
        );
        break;
      }
      case "warning":
        clear();
        stream.write(`warning: ${event.message}\n`);
        break;
      case "experiment:end":
        clear();
        break;
    }
  };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "–";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${Math.round(seconds % 60)}s`;
  return `${Math.floor(m / 60)}h${m % 60}m`;
}
