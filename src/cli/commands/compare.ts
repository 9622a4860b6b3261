import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { BenchlineError } from "../../core/errors.js";
import { positiveInt } from "../options.js";

const probability = (value: string): number => {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError("expected a number between 0 and 1");
  return n;
};

const wholeNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError("expected a whole number");
  return n;
};

const pct = (x: number | null): string =>
  x === null || !Number.isFinite(x) ? "–" : `${(x * 100).toFixed(1)}%`;
const pp = (x: number | null): string =>
  x === null || !Number.isFinite(x) ? "–" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}`;
const pv = (p: number): string => (!Number.isFinite(p) ? "–" : p < 0.001 ? "<0.001" : p.toFixed(3));

export function compareCommand(): Command {
  return new Command("compare")
    .summary("paired significance tests between trial directories (any experiments)")
    .description(
      "Compare trials on the items they share: B − A of the primary scorer's per-item mean with a paired bootstrap CI, exact McNemar for pass/fail scores, a permutation test otherwise, Holm-corrected across the comparisons made. Each trial is compared with the first one named (the baseline); --all-pairs compares every pair.",
    )
    .argument(
      "<trial-dir...>",
      "two or more trial directories (each holds trial.json); the first is the baseline",
    )
    .option("--all-pairs", "compare every pair of trials, not each against the first")
    .option("--alpha <p>", "significance level after Holm correction", probability, 0.05)
    .option("--iterations <n>", "bootstrap/permutation iterations", positiveInt, 10_000)
    .option("--seed <n>", "random seed", wholeNumber, 0)
    .option("--json", "print the comparisons as JSON")
    .action(
      async (
        dirs: string[],
        flags: { alpha: number; iterations: number; seed: number; json?: boolean; allPairs?: boolean },
      ) => {
        if (dirs.length < 2)
          throw new BenchlineError("usage", "compare: name at least two trial directories");
        const unique = new Set(dirs.map((d) => resolve(d)));
        if (unique.size !== dirs.length)
          throw new BenchlineError("usage", "compare: a trial directory is named twice");
        const [{ compareTrialDirs }, { table }] = await Promise.all([
          import("../../pipeline/compare.js"),
          import("../../report/index.js"),
        ]);
        const { trials, comparisons } = await compareTrialDirs(dirs, flags);
        if (flags.json) {
          process.stdout.write(
            `${JSON.stringify({ alpha: flags.alpha, correction: "holm", comparisons }, null, 2)}\n`,
          );
          return;
        }
        process.stdout.write(
          `${table(
            ["trial", "model", "prompt set", "items", "mean"],
            trials.map((t) => [
              t.manifest.name,
              t.manifest.spec.model.id,
              t.manifest.spec.prompt_set.name,
              t.perItem.size,
              pct(t.summary.mean_score),
            ]),
          )}\n\n`,
        );
        process.stdout.write(
          `${table(
            ["B", "A", "shared", "B − A (pp)", "CI", "test", "p", "p (Holm)", "significant"],
            comparisons.map((c) => [
              c.trial_b,
              c.trial_a,
              c.n_shared,
              pp(c.diff),
              `[${pp(c.ci_low)}, ${pp(c.ci_high)}]`,
              c.test,
              pv(c.p_value),
              pv(c.p_adjusted),
              c.significant ? "yes" : "no",
            ]),
          )}\n`,
        );
      },
    );
}
