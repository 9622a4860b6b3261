import { Command, Option } from "commander";
import { type TrialFormat, trialFormats, writeTrialFormat } from "../../pipeline/index.js";

export function convertCommand(): Command {
  return new Command("convert")
    .summary("write a trial's rows in another tool's format (SWE-bench, EditBench, CVDP)")
    .description(
      "swebench: predictions {instance_id, model_name_or_path, model_patch} (sample 0). editbench: experiment_results/{model}/T={temperature}/n={n}/{dataset}_{run_id}.jsonl. swebench-report: report.json per instance and the run report (schema_version 2). cvdp-report: CVDP's report.json (sample 0), cvdp-summary.json and cvdp-report.md (category × difficulty, unbiased pass@k beside CVDP's formula); with several samples also sample_<n>/report.json and CVDP's composite_report.json.",
    )
    .argument("<trial-dir>", "a trial directory (holds trial.json)")
    .addOption(new Option("--to <format>", "output format").choices([...trialFormats]).makeOptionMandatory())
    .option(
      "--out <path>",
      "file (swebench) or directory (editbench, swebench-report, cvdp-report); default: the trial directory (cvdp-report: <trial>/cvdp)",
    )
    .action(async (dir: string, flags: { to: TrialFormat; out?: string }) => {
      for (const path of await writeTrialFormat(dir, flags.to, flags.out)) process.stdout.write(`${path}\n`);
    });
}
