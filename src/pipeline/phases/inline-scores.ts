import { existsSync } from "node:fs";
import { JsonlWriter, type Prediction, type Sample, type Score, scoreBasis } from "../../core/index.js";
import type { TrialContext } from "../context.js";
import { FreshReport } from "../fresh-report.js";
import { scoreItem } from "./score-item.js";

/**
 * Scores written by the inference phase as each answer arrives, for a trial started from nothing
 * (no predictions and no scores on file) whose task executes nothing and whose scorers ask no
 * model. A latency-bound run leaves the CPU idle while it waits for answers, so scoring then costs
 * no wall time, and the scoring phase after it need not read predictions, scores and the dataset
 * again: every ok prediction on file was scored here (`coversScoring`). The rows are those the
 * scoring phase writes (same `basis`), so a trial interrupted half way resumes through the normal
 * scoring phase, which finds them and rescores nothing.
 */
export class InlineScores {
  /** Ok predictions seen, and scored. */
  private seen = 0;
  private scored = 0;
  private pending = 0;
  private failed = false;

  private constructor(
    private readonly ctx: TrialContext,
    private readonly writer: JsonlWriter,
    /** The trial's summary, built from the rows as they are written (when it can be: `FreshReport`). */
    readonly report: FreshReport | undefined,
  ) {}

  /** Undefined when the trial is not one this applies to (see above). */
  static open(ctx: TrialContext): InlineScores | undefined {
    const { exp, files } = ctx;
    if (exp.task.execute !== undefined || exp.judges !== undefined || exp.scorers.length === 0)
      return undefined;
    if (existsSync(files.predictions) || existsSync(files.scores)) return undefined;
    return new InlineScores(ctx, JsonlWriter.open(files.scores, { buffered: true }), FreshReport.open(ctx));
  }

  /**
   * Takes a prediction row that was just written (every row, in the order written): scores it if
   * it is ok (its scores are written by the next `flush`). `position`: its item's dataset position,
   * when known (the prompt's `index`), which spares the report a look-up by id a row.
   */
  add(row: Prediction, sample: Sample, position?: number): void | Promise<void> {
    this.report?.prediction(row, sample.metadata?.category, position);
    if (row.status !== "ok") return;
    this.seen++;
    const basis = scoreBasis(row.completion);
    const scores = scoreItem(this.ctx.exp, { prediction: row, sample });
    if (!(scores instanceof Promise)) {
      this.write(scores, basis, position);
      this.scored++;
      return;
    }
    this.pending++;
    return scores.then(
      (done) => {
        this.pending--;
        this.write(done, basis, position);
        this.scored++;
      },
      () => {
        this.pending--;
        this.failed = true;
      },
    );
  }

  private write(scores: Score[], basis: string, position: number | undefined): void {
    for (const score of scores) {
      this.writer.write({ ...score, basis });
      this.report?.score(score, position);
    }
  }

  /** Writes the scores of predictions already written (call right after their writer's flush). */
  flush(): void {
    this.writer.flush();
    this.report?.flush();
  }

  /** Predictions scored here, and score rows written. */
  get items(): number {
    return this.scored;
  }
  get written(): number {
    return this.writer.count;
  }

  close(): void {
    this.writer.close();
  }

  /**
   * True when the scoring phase has nothing to do: every ok prediction written was scored here
   * and nothing was interrupted.
   */
  coversScoring(): boolean {
    return !this.failed && this.pending === 0 && !this.ctx.signal.aborted && this.scored === this.seen;
  }
}
