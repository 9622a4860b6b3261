import { Command, Option } from "commander";
import { type TrialFormat, trialFormats } from "../../pipeline/format-names.js";

export function convertCommand(): Command {
  return new Command("convert")
    .summary("write a trial's rows in another tool's format (SWE-bench, EditBench, CVDP, guided seed rows)")
    .description(
      "swebench: predictions {instance_id, model_name_or_path, model_patch} (sample 0). editbench: experiment_results/{model}/T={temperature}/n={n}/{dataset}_{run_id}.jsonl. swebench-report: report.json per instance and the run report (schema_version 2). cvdp-report: CVDP's report.json (sample 0), cvdp-summary.json and cvdp-report.md (category × difficulty, unbiased pass@k beside CVDP's formula); with several samples also sample_<n>/report.json and CVDP's composite_report.json. guided: the guided-decoding seed rows {c, k, base_model_id, oracle_model_id, prompt, result, ground_truth, parsed_answer, interleaved_outputs, cheat_positions, total_tokens_generated} (default guided.seed.jsonl).",
    )
    .argument("<trial-dir>", "a trial directory (holds trial.json)")
    .addOption(new Option("--to <format>", "output format").choices([...trialFormats]).makeOptionMandatory())
    .option(
      "--out <path>",
      "file (swebench, guided) or directory (editbench, swebench-report, cvdp-report); default: the trial directory (cvdp-report: <trial>/cvdp)",
    )
    .action(async (dir: string, flags: { to: TrialFormat; out?: string }) => {
      const { writeTrialFormat } = await import("../../pipeline/formats.js");
      for (const path of await writeTrialFormat(dir, flags.to, flags.out)) process.stdout.write(`${path}\n`);
    });
}
