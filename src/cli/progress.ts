import type { RunEvent } from "../pipeline/index.js";

export type LogFormat = "auto" | "tty" | "plain" | "json";

interface TrialState {
  name: string;
  phase: string;
  total: number;
  done: number;
  errors: number;
  /** Error rows of the current phase by code, with the first message for each. */
  by_code: Record<string, number>;
  examples: Record<string, string>;
  cached: number;
  cost: number;
  started: number;
  startDone: number;
  finished: boolean;
  result?: string;
}

/**
 * Turns run events into output on stderr. On a terminal: a live block with one line per trial
 * (phase, done/total, rate, errors, cost) and a run line with the ETA. Otherwise (CI logs): a
 * line per active trial every few seconds and a line per finished phase. `json`: one event per line.
 */
export function createReporter(
  format: LogFormat,
  stream: NodeJS.WriteStream = process.stderr,
  intervalMs = 5000,
  options: { verbose?: boolean } = {},
) {
  const mode = format === "auto" ? (stream.isTTY ? "tty" : "plain") : format;
  // Colour on a terminal (or `--log tty`), unless NO_COLOR is set (no-color.org).
  const colour = mode === "tty" && !process.env.NO_COLOR;
  const trials = new Map<string, TrialState>();
  const runStarted = Date.now();
  let drawnLines = 0;
  let lastDraw = 0;
  let lastPlain = Date.now();

  const rateOf = (t: TrialState): number => {
    const elapsed = (Date.now() - t.started) / 1000;
    return elapsed > 0.2 ? (t.done - t.startDone) / elapsed : 0;
  };
  const describe = (t: TrialState): string => {
    if (t.finished) return `${t.name}  done${t.result ? `  ${t.result}` : ""}`;
    if (!t.phase) return `${t.name}  waiting`;
    const rate = rateOf(t);
    const pct = t.total === 0 ? 100 : Math.floor((t.done / t.total) * 100);
    const parts = [
      `${t.name}  ${t.phase} ${t.done}/${t.total} (${pct}%)`,
      `${rate.toFixed(1)}/s`,
      `errors ${t.errors}`,
    ];
    if (t.cached) parts.push(`cached ${t.cached}`);
    if (t.cost) parts.push(`$${t.cost.toFixed(4)}`);
    const remaining = t.total - t.done;
    if (rate > 0 && remaining > 0) parts.push(`ETA ${formatDuration(remaining / rate)}`);
    // Last, so a narrow terminal cuts the example message rather than the numbers.
    if (t.errors) parts.push(describeErrors(t, 60));
    return parts.join("  ");
  };
  const runLine = (): string => {
    const all = [...trials.values()];
    const finished = all.filter((t) => t.finished).length;
    const cost = all.reduce((a, t) => a + t.cost, 0);
    // ETA: the slowest active trial's remaining time, plus waiting trials at the mean trial time.
    const active = all.filter((t) => !t.finished && t.phase);
    const waiting = all.filter((t) => !t.finished && !t.phase).length;
    const etas = active.map((t) => {
      const r = rateOf(t);
      return r > 0 ? (t.total - t.done) / r : Number.NaN;
    });
    const elapsed = (Date.now() - runStarted) / 1000;
    const perTrial = finished > 0 ? elapsed / finished : Number.NaN;
    const eta = Math.max(0, ...etas.filter(Number.isFinite)) + (waiting > 0 ? waiting * perTrial : 0);
    return `run: ${finished}/${all.length} trials done  elapsed ${formatDuration(elapsed)}${cost ? `  $${cost.toFixed(4)}` : ""}${Number.isFinite(eta) && eta > 0 ? `  ETA ${formatDuration(eta)}` : ""}`;
  };
  const draw = (force = false): void => {
    const now = Date.now();
    if (mode === "tty") {
      if (!force && now - lastDraw < 100) return;
      lastDraw = now;
      const cols = (stream.columns || 120) - 1;
      const shown = [...trials.values()].filter((t) => t.phase || t.finished).slice(-20);
      const lines = [...shown.map(describe), runLine()].map((l) => l.slice(0, cols));
      let out = drawnLines > 0 ? `\x1b[${drawnLines}A` : "";
      for (const l of lines) out += `\r\x1b[2K${l}\n`;
      stream.write(out);
      drawnLines = lines.length;
    } else if (mode === "plain" && now - lastPlain >= intervalMs) {
      lastPlain = now;
      for (const t of trials.values())
        if (!t.finished && t.phase && t.done < t.total) stream.write(`${describe(t)}\n`);
    }
  };
  const print = (text: string): void => {
    if (mode === "tty" && drawnLines > 0) {
      stream.write(`\x1b[${drawnLines}A\x1b[0J`);
      drawnLines = 0;
    }
    stream.write(text);
  };

  return (event: RunEvent): void => {
    if (mode === "json") {
      stream.write(`${JSON.stringify(event)}\n`);
      return;
    }
    switch (event.type) {
      case "experiment:start":
        for (const name of event.trial_names) {
          trials.set(name, {
            name,
            phase: "",
            total: 0,
            done: 0,
            errors: 0,
            by_code: {},
            examples: {},
            cached: 0,
            cost: 0,
            started: Date.now(),
            startDone: 0,
            finished: false,
          });
        }
        print(
          `${event.name}: ${event.trials} trial(s), ${event.items} item(s) × ${event.samples} sample(s) → ${event.dir}\n`,
        );
        break;
      case "phase:start": {
        const t = trials.get(event.trial);
        if (!t) break;
        Object.assign(t, {
          phase: event.phase,
          total: event.total,
          done: event.done,
          startDone: event.done,
          started: Date.now(),
        });
        draw(true);
        break;
      }
      case "row": {
        const t = trials.get(event.trial);
        if (!t) break;
        t.done++;
        if (event.status === "error") {
          t.errors++;
          const code = event.error?.code ?? "error";
          t.by_code[code] = (t.by_code[code] ?? 0) + 1;
          if (event.error && t.examples[code] === undefined) t.examples[code] = event.error.message;
        }
        if (event.cached) t.cached++;
        if (event.cost_usd) t.cost += event.cost_usd;
        if (options.verbose && event.guided) print(guidedText(event.trial, event.guided, colour));
        draw();
        break;
      }
      case "phase:end": {
        const t = trials.get(event.trial);
        if (!t || event.written === 0) break;
        // The prompts phase can end while inference (which overlaps it) is counting its rows:
        // the counts belong to the phase in progress, not to the one that ended.
        const current = event.phase === t.phase;
        if (mode === "plain") {
          const extra = current
            ? [
                t.errors ? `${t.errors} error(s) (${describeErrors(t)})` : "",
                t.cached ? `${t.cached} cached` : "",
              ]
                .filter(Boolean)
                .join(", ")
            : "";
          print(
            `${t.name} ${event.phase}: ${event.written} row(s) written${extra ? `, ${extra}` : ""} in ${formatDuration(event.ms / 1000)}\n`,
          );
        }
        if (!current) break;
        t.errors = 0;
        t.by_code = {};
        t.examples = {};
        t.cached = 0;
        break;
      }
      case "trial:done": {
        const t = trials.get(event.trial);
        if (t) t.finished = true;
        draw(true);
        break;
      }
      case "trial:end": {
        const mean = event.summary.mean;
        const { errors, by_code } = event.summary;
        const { examples } = event.summary;
        const detail =
          by_code && Object.keys(by_code).length > 0
            ? ` (${describeErrors({ by_code, ...(examples ? { examples } : {}) })})`
            : "";
        const text = `${mean === null || mean === undefined ? "–" : `${(mean * 100).toFixed(1)}%`}${errors ? `, ${errors} error(s)${detail}` : ""}`;
        print(`  ${event.trial}: ${text}\n`);
        break;
      }
      case "batch":
        print(
          `${event.trial} batch ${event.batch_id}: ${event.status}, ${event.completed}/${event.total} done, ${event.failed} failed (${formatDuration(event.elapsed_ms / 1000)})\n`,
        );
        break;
      case "warning":
        print(`warning: ${event.message}\n`);
        break;
      case "experiment:end":
        if (mode === "tty" && drawnLines > 0) print("");
        break;
      case "trial:start":
        break;
    }
  };
}

const COLOURS: Record<string, string> = { oracle: "\x1b[34m", base: "\x1b[31m" };

/**
 * A guided answer for `--verbose`: a header line, then the completion with the oracle's text blue
 * and the base model's red; plain text without colour.
 */
export function guidedText(
  trial: string,
  row: { id: string; sample: number; interleaved: { text: string; model: string }[] },
  colour: boolean,
): string {
  const body = row.interleaved
    .map((s) => (colour ? `${COLOURS[s.model] ?? ""}${s.text}\x1b[39m` : s.text))
    .join("");
  const legend = colour ? ` (${COLOURS.oracle}oracle\x1b[39m, ${COLOURS.base}base\x1b[39m)` : "";
  return `── ${trial} ${row.id}#${row.sample}${legend}\n${body}\n`;
}

/** `http_401 ×40, timeout ×2 — e.g. "401 Unauthorized: invalid key"` */
export function describeErrors(
  errors: {
    by_code: Record<string, number>;
    examples?: Record<string, string>;
  },
  exampleChars = 200,
): string {
  const codes = Object.entries(errors.by_code).sort((a, b) => b[1] - a[1]);
  const counts = codes.map(([code, n]) => `${code} ×${n}`).join(", ");
  const top = codes[0]?.[0];
  const example = top === undefined ? undefined : errors.examples?.[top];
  return example ? `${counts} — e.g. ${top}: ${oneLine(example, exampleChars)}` : counts;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "–";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${Math.round(seconds % 60)}s`;
  return `${Math.floor(m / 60)}h${m % 60}m`;
}
