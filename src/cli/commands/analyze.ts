import { Command, InvalidArgumentError } from "commander";

const wholeNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError("expected a whole number");
  return n;
};

export function analyzeCommand(): Command {
  return new Command("analyze")
    .summary("a guided trial's base-model uncertainty at oracle consultations (analysis.jsonl, analysis.md)")
    .description(
      "For every oracle consultation point of a guided trial run with `analysis: true`, and a matched sample of non-consultation points: the base model's next-token entropy (bits), varentropy, top-1 probability and top-1 minus top-2, whether base and oracle agree on the next token, the position and normalised position, and the row's correctness. Writes analysis.jsonl (one row per point) and analysis.md (distributions at consultation vs other points; point-biserial correlation with correctness, with a bootstrap CI). Attention statistics are left out: no supported backend exposes attention weights.",
    )
    .argument("<trial-dir>", "a guided trial directory (holds trial.json)")
    .option("--out <dir>", "where to write analysis.jsonl and analysis.md (default: the trial directory)")
    .option("--seed <n>", "seed of the matched sample and the bootstrap (default 0)", wholeNumber)
    .action(async (dir: string, flags: { out?: string; seed?: number }) => {
      const { analyzeTrial } = await import("../../pipeline/index.js");
      const result = await analyzeTrial(dir, {
        ...(flags.out !== undefined ? { out: flags.out } : {}),
        ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
      });
      for (const path of result.files) process.stdout.write(`${path}\n`);
    });
}
