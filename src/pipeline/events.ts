/**
 * What a run reports as it goes. The progress bar, the plain CI log and the JSON log all consume
 * these; nothing in the pipeline prints.
 */
export type PhaseName = "prompts" | "inference" | "execution" | "score" | "report";
export type PhaseSelection = PhaseName | "all";
/** What `--phase` accepts (here, not in run.ts, so the CLI can offer it without loading the pipeline). */
export const PHASES: readonly PhaseSelection[] = [
  "prompts",
  "inference",
  "execution",
  "score",
  "report",
  "all",
];

export type RunEvent =
  | {
      type: "experiment:start";
      name: string;
      dir: string;
      trials: number;
      trial_names: string[];
      items: number;
      samples: number;
    }
  | { type: "trial:start"; trial: string; index: number }
  | { type: "phase:start"; trial: string; phase: PhaseName; total: number; done: number }
  | {
      type: "row";
      trial: string;
      phase: PhaseName;
      status: "ok" | "error";
      cached?: boolean;
      cost_usd?: number;
      /** Why the row failed (`status: "error"`). */
      error?: { code: string; message: string };
      /** A guided prediction: who wrote which part of the completion (shown by `run --verbose`). */
      guided?: { id: string; sample: number; interleaved: { text: string; model: string }[] };
    }
  | {
      /** A failed model request that will be tried again after `wait_ms`. */
      type: "retry";
      trial: string;
      phase: PhaseName;
      id: string;
      samples: number[];
      attempt: number;
      wait_ms: number;
      code: string;
      message: string;
    }
  | { type: "phase:end"; trial: string; phase: PhaseName; written: number; ms: number }
  | { type: "trial:done"; trial: string }
  | {
      type: "trial:end";
      trial: string;
      summary: {
        mean?: number | null;
        errors: number;
        /** Error rows by code, and one example message per code. */
        by_code?: Record<string, number>;
        examples?: Record<string, string>;
      };
    }
  | {
      /** A Batch API batch of a trial changed status or counts (`batch: true` models). */
      type: "batch";
      trial: string;
      batch_id: string;
      status: string;
      total: number;
      completed: number;
      failed: number;
      elapsed_ms: number;
    }
  | { type: "warning"; message: string; trial?: string }
  | { type: "experiment:end"; dir: string; report: string; interrupted: boolean };

export type EventSink = (event: RunEvent) => void;
