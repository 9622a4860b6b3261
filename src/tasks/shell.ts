import { z } from "zod";
import type { Sample, StepResult } from "../core/index.js";
import { defineTask, idFor } from "./define.js";

const row = z.object({
  id: z.union([z.string().min(1), z.number()]).optional(),
  task: z.string().min(1),
  setup_commands: z.array(z.string()).default([]),
  success_condition: z.string().min(1),
  reference: z.string().optional(),
  category: z.string().optional(),
});

/** How the command was found in the completion. */
export type ParseMethod = "fenced" | "prompt" | "json" | "first_line" | "empty";

export interface ShellArtifact {
  command: string;
  method: ParseMethod;
}

/**
 * One shell command out of a completion, trying in order: a fenced code block, a `$ ` prompt
 * line, JSON `{"command": ...}`, else the first non-empty line.
 */
export function parseShellCommand(completion: string): ShellArtifact {
  const text = completion.trim();
  const fenced = /```[\w+-]*[^\S\n]*\n([\s\S]*?)```/.exec(text);
  if (fenced?.[1] !== undefined && fenced[1].trim() !== "") {
    return { command: stripPrompt(fenced[1].trim()), method: "fenced" };
  }
  const json = /\{[\s\S]*\}/.exec(text)?.[0];
  if (json) {
    try {
      const value = JSON.parse(json) as { command?: unknown };
      if (typeof value.command === "string" && value.command.trim() !== "")
        return { command: value.command.trim(), method: "json" };
    } catch {
      // not JSON: fall through
    }
  }
  const promptLine = text.split("\n").find((l) => /^\s*\$ \S/.test(l));
  if (promptLine) return { command: promptLine.replace(/^\s*\$ /, "").trim(), method: "prompt" };
  const first = text.split("\n").find((l) => l.trim() !== "");
  if (first === undefined) return { command: "", method: "empty" };
  return { command: first.trim().replace(/^`(.*)`$/, "$1"), method: "first_line" };
}

/** Drops `$ ` prompts inside a fenced block (multi-line blocks stay one script). */
function stripPrompt(block: string): string {
  return block
    .split("\n")
    .map((l) => l.replace(/^\$ /, ""))
    .join("\n");
}

const input = (sample: Sample) =>
  sample.input as { task: string; setup_commands: string[]; success_condition: string };

/**
 * Shell tasks in two phases: models answer with one command (inference), which later runs in a
 * fresh sandbox after the task's setup commands, followed by its success condition (execution).
 */
export const shellTask = defineTask({
  name: "shell",
  description:
    "Shell tasks: rows {task, setup_commands[], success_condition, reference?, id?}; the command runs in a sandbox",
  row,
  defaultPrompts: {
    default: {
      system:
        "You operate a Linux shell (POSIX sh, GNU coreutils). You are in the working directory of the task. Reply with exactly one shell command (pipes and && are fine) in a ```sh code block, and nothing else.",
      user: "Task: {{task}}",
    },
  },
  defaultScorers: ["exec"],
  toSample: (r) => ({
    id: idFor(
      { task: r.task, setup_commands: r.setup_commands, success_condition: r.success_condition },
      r.id,
    ),
    input: { task: r.task, setup_commands: r.setup_commands, success_condition: r.success_condition },
    ...(r.reference !== undefined ? { target: r.reference } : {}),
    ...(r.category !== undefined ? { metadata: { category: r.category } } : {}),
  }),
  reference: (sample) =>
    typeof sample.target === "string" ? `\`\`\`sh\n${sample.target}\n\`\`\`` : undefined,
  parse: (completion): ShellArtifact => parseShellCommand(completion),
  async execute(artifact, sample, ctx) {
    const { setup_commands, success_condition } = input(sample);
    const steps = [
      ...setup_commands.map((command, i) => ({ name: `setup_${i + 1}`, command })),
      {
        name: "command",
        command: artifact.command === "" ? "false  # no command in the completion" : artifact.command,
      },
      { name: "test", command: success_condition },
    ];
    const start_time = new Date().toISOString();
    const result = await ctx.sandbox.run(steps, {
      timeoutMs: ctx.timeoutMs,
      ...(ctx.limits ? { limits: ctx.limits } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const find = (name: string): StepResult | undefined => result.steps.find((s) => s.name === name);
    const setupFailed = result.steps
      .filter((s) => s.name.startsWith("setup_"))
      .find((s) => s.exit_code !== 0);
    const command = find("command");
    const test = find("test");
    const commandSuccess = command?.exit_code === 0 && !command.timed_out;
    const testPassed = test?.exit_code === 0 && !test.timed_out;
    // A command killed at the timeout did not finish its job, whatever state it left behind:
    // the row fails even when the success condition holds (a non-zero exit alone does not).
    const passed = !setupFailed && artifact.command !== "" && !command?.timed_out && testPassed;
    const reason = setupFailed
      ? setupFailed.timed_out
        ? `setup step ${setupFailed.name} timed out`
        : `setup step ${setupFailed.name} failed (exit ${setupFailed.exit_code})`
      : artifact.command === ""
        ? "no command found in the completion"
        : command?.timed_out
          ? "command timed out"
          : test?.timed_out
            ? "success condition timed out"
            : !testPassed
              ? "success condition failed"
              : undefined;
    return {
      steps: result.steps,
      passed,
      extras: {
        command: artifact.command,
        parse_method: artifact.method,
        command_output: (command?.stdout ?? "") + (command?.stderr ?? ""),
        command_exit_code: command?.exit_code ?? null,
        command_success: commandSuccess,
        test_exit_code: test?.exit_code ?? null,
        test_passed: testPassed,
        overall_success: passed,
        ...(reason ? { failure_reason: reason } : {}),
        start_time,
        end_time: new Date().toISOString(),
      },
    };
  },
});
