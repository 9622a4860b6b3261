import { z } from "zod";
import { BenchlineError, type Sample } from "../../core/index.js";
import { defineTask } from "../define.js";
import { type CvdpArtifact, parseCompletion } from "./extract.js";
import { type HarnessOptions, imagePlaceholder, runHarness } from "./harness.js";
import { answerFiles, systemPrompt, userPrompt } from "./prompt.js";
import {
  bleuCategories,
  type CvdpRow,
  comprehensionCategories,
  cvdpRow,
  judgeCategories,
  type Problem,
  toProblem,
} from "./records.js";

export { commandLine, parseCompose, parseEnvFile } from "./compose.js";
export { type CvdpArtifact, firstFencedBlock, parseCompletion } from "./extract.js";
export { answerFiles, systemPrompt, userPrompt } from "./prompt.js";
export { applyHunks, type CvdpRow, cvdpRow, type Problem, toProblem } from "./records.js";

/** How a problem is scored: its harness, BLEU/ROUGE against the reference, or an LLM judge. */
export type CvdpKind = "harness" | "bleu" | "judge";

export interface CvdpInput {
  problem: Problem;
  kind: CvdpKind;
  system: string;
  user: string;
}

const options = z.strictObject({
  /**
   * Image placeholders → images. Docker runs each service in its mapped image (an unmapped
   * placeholder is an error on that record); `__VERIF_EDA_IMAGE__` mapped also means commercial
   * records run instead of being skipped. bwrap runs the host's tools, so it refuses any other key.
   */
  images: z
    .record(
      z.string().regex(imagePlaceholder, "an image placeholder such as __OSS_SIM_IMAGE__"),
      z.string().min(1),
    )
    .default({}),
  /** COCOTB_RANDOM_SEED of every harness run. */
  seed: z.number().int().nonnegative().default(1),
}) satisfies z.ZodType<HarnessOptions, unknown>;

export function kindOf(problem: Problem): CvdpKind {
  if (bleuCategories.includes(problem.cid)) return "bleu";
  if (judgeCategories.includes(problem.cid)) return "judge";
  return "harness";
}

function toSample(row: CvdpRow): Sample {
  const problem = toProblem(row);
  const cid = `cid${String(problem.cid).padStart(3, "0")}`;
  const input: CvdpInput = {
    problem,
    kind: kindOf(problem),
    system: systemPrompt(problem),
    user: userPrompt(problem),
  };
  return {
    id: problem.id,
    input: input as unknown as Record<string, unknown>,
    ...(comprehensionCategories.includes(problem.cid)
      ? { target: problem.response }
      : { target: problem.expected }),
    metadata: { category: `${cid}/${problem.difficulty}`, cid, difficulty: problem.difficulty },
  } as Sample;
}

/** The reference as a completion CVDP would read back: the file's text, or the JSON answer. */
function reference(sample: Sample): string | undefined {
  const { problem } = sample.input as unknown as CvdpInput;
  if (comprehensionCategories.includes(problem.cid))
    return problem.response === "" ? undefined : JSON.stringify({ response: problem.response });
  const files = answerFiles(problem);
  // A record without solutions (empty reference files) has no reference answer: gold must not pass it.
  if (files.length === 0 || files.some((f) => problem.expected[f] === "")) return undefined;
  if (files.length === 1) return problem.expected[files[0] as string];
  return JSON.stringify({ code: files.map((f) => ({ [f]: problem.expected[f] })) });
}

/**
 * NVIDIA's CVDP hardware-design benchmark: Verilog/SystemVerilog problems with CVDP's own prompts
 * (byte-identical to its `local_export`), answers read as CVDP reads them (only expected files are
 * written), and harnesses (docker-compose services: cocotb + Icarus) run in the sandbox with the
 * work dir at `/code/{rtl,verif,docs,src,rundir}` and `src` at `/src` read-only.
 *
 * @example
 * task: { name: cvdp, seed: 7 }
 * dataset: cvdp_v1.1.0_nonagentic_code_generation_no_commercial.jsonl
 * execution: { sandbox: bwrap, timeout: 600 }
 */
export const cvdpTask = defineTask<CvdpRow, HarnessOptions, CvdpArtifact>({
  name: "cvdp",
  description:
    "NVIDIA CVDP hardware design: records {id, categories, input, output, harness} or agentic ones; CVDP's prompts; cocotb/Icarus harnesses in the sandbox",
  row: cvdpRow as unknown as z.ZodType<CvdpRow>,
  options: options as unknown as z.ZodType<HarnessOptions>,
  defaultPrompts: { cvdp: { system: "{{system}}", user: "{{user}}" } },
  defaultScorers: ["cvdp"],
  // CVDP's harness timeout; execution.timeout overrides it.
  defaultTimeoutSeconds: 600,
  toSample,
  reference,
  promptVars: (sample) => {
    const input = sample.input as unknown as CvdpInput;
    return { id: sample.id, system: input.system, user: input.user };
  },
  exportLine: (line) => ({ id: line.id, prompt: line.prompt, system: line.system, user: line.user }),
  // Before anything runs: images only mean something to docker (bwrap honours __VERIF_EDA_IMAGE__ alone).
  async prepare(_samples, options, context) {
    const unused = Object.keys(options.images).filter((k) => k !== "__VERIF_EDA_IMAGE__");
    if (context.sandbox !== undefined && context.sandbox !== "docker" && unused.length > 0)
      throw new BenchlineError(
        "config",
        `task.images.${unused[0]}: only the docker sandbox runs services in images (${context.sandbox} runs the host's tools); use execution.sandbox: docker or remove it`,
      );
  },
  parse: (completion, sample) => parseCompletion(completion, (sample.input as unknown as CvdpInput).problem),
  async execute(artifact, sample, ctx) {
    const input = sample.input as unknown as CvdpInput;
    if (input.kind !== "harness") {
      const now = new Date().toISOString();
      return {
        steps: [],
        passed: false,
        extras: {
          skipped: `cid${input.problem.cid} is scored on text, not run`,
          start_time: now,
          end_time: now,
        },
      };
    }
    return runHarness(input.problem, artifact, ctx);
  },
});
