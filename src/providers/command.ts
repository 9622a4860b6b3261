/**
 * `command:./my-model.sh` — any executable as a model. The request goes to its stdin as JSON
 * (`{messages, prompt, n, sample_indices, temperature, top_p, max_tokens, stop, seed,
 * top_logprobs}`); stdout is either plain text (one completion) or JSON `{completion}` /
 * `{completions: [text | {text, finish_reason}]}`, optionally with `usage`. With a `seed`, each
 * sample is its own run with `n: 1` and `seed + sample index`.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { childProcess } from "../core/builtins.js";
import type { Completion, GenerateRequest, Generation, ProviderFactory } from "../core/index.js";
import { BenchlineError, formatIssues } from "../core/index.js";
import { abortReason, generateAll, generatePerSample, onAbort, ProviderError } from "./http.js";
import { contextLengthOption, type ModelDeclaration, schedulingOptions } from "./options.js";
import { costFor, FREE, priceSchema } from "./pricing.js";

const optionsSchema = z.strictObject({
  ...schedulingOptions,
  ...contextLengthOption,
  args: z.array(z.string()).optional(),
  /** Seconds per run (default 600); also the scheduler's per-attempt timeout. */
  timeout: z.number().positive().optional(),
  price: priceSchema.optional(),
});

/** A program is the model: it needs its path, gets every sampling param, and runs behind the scheduler. */
export const commandModel: ModelDeclaration = { options: optionsSchema, model: "required", sampling: true };

const STDERR_TAIL = 2000;
const MAX_STDOUT = 64 * 1024 * 1024;

/**
 * Runs `spec.model`, relative to the experiment's directory. Reads `options`: args, timeout
 * (seconds, default 600), price (self-hosted: free unless set); the scheduler reads concurrency,
 * rpm, tpm, max_attempts, timeout. With a seed, sample i runs alone with `seed + i`; without,
 * when it answers fewer samples than asked, it runs again per missing sample.
 */
export const createCommandProvider: ProviderFactory = (spec, env) => {
  const parsed = optionsSchema.safeParse(spec.options);
  if (!parsed.success)
    throw new BenchlineError("config", `model ${spec.id}: ${formatIssues(parsed.error.issues)}`);
  const { args = [], timeout = 600, price = FREE } = parsed.data;
  const relative = spec.model;
  if (!relative) throw new BenchlineError("config", `model ${spec.id}: command needs a path`);
  const executable = resolve(env.baseDir, relative);
  if (!existsSync(executable))
    throw new BenchlineError("not_found", `model ${spec.id}: ${relative} not found`);
  const run: RunOptions = { executable, args, cwd: env.baseDir, env: env.env, timeoutMs: timeout * 1000 };
  return {
    id: spec.id,
    async generate(request, { signal }) {
      // With a seed, sample i runs alone with seed + i, as for HTTP models: samples differ, and
      // one re-run (or a later --samples extension) gets the same text.
      const seed = request.seed;
      const generation =
        seed === undefined
          ? await generateAll(request, (r) => runOnce(run, r, signal))
          : await generatePerSample({ ...request, seed }, (r) => runOnce(run, r, signal));
      return generation.usage
        ? { ...generation, cost_usd: costFor(undefined, generation.usage, price) ?? 0 }
        : generation;
    },
  };
};

// ---------------------------------------------------------------- internal helpers

interface RunOptions {
  executable: string;
  args: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  timeoutMs: number;
}

function runOnce(run: RunOptions, request: GenerateRequest, signal: AbortSignal): Promise<Generation> {
  const { sampleIndices, ...rest } = request;
  const input = JSON.stringify({ ...rest, sample_indices: sampleIndices });
  return new Promise((resolvePromise, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    // Its own process group, so a timeout also kills whatever a script started.
    const child = childProcess().spawn(run.executable, run.args, {
      cwd: run.cwd,
      env: run.env,
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = "";
    let settled = false;
    const finish = (error: Error | undefined, generation?: Generation): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      if (error) {
        killGroup(child.pid);
        reject(error);
      } else resolvePromise(generation as Generation);
    };
    const timer = setTimeout(
      () => finish(new ProviderError("timeout", `${run.executable}: no answer within ${run.timeoutMs} ms`)),
      run.timeoutMs,
    );
    const unsubscribe = onAbort(signal, () => finish(abortReason(signal)));
    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_STDOUT)
        finish(new ProviderError("command_failed", `${run.executable}: stdout too large`));
      else stdout.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_TAIL);
    });
    child.on("error", (error) =>
      finish(new ProviderError("command_failed", `${run.executable}: ${error.message}`)),
    );
    child.on("close", (code, killedBy) => {
      if (code !== 0) {
        const how = killedBy ? `was killed by ${killedBy}` : `exited with code ${code}`;
        const tail = stderr.trim() ? `: ${stderr.trim()}` : "";
        return finish(new ProviderError("command_failed", `${run.executable} ${how}${tail}`));
      }
      try {
        finish(undefined, parseOutput(Buffer.concat(stdout).toString("utf8")));
      } catch (error) {
        finish(error as Error);
      }
    });
    child.stdin.on("error", () => undefined); // a program that does not read stdin is fine
    child.stdin.end(input);
  });
}

/** Plain text is one completion; a JSON object with `completion` or `completions` is parsed. */
function parseOutput(stdout: string): Generation {
  const json = parseJsonObject(stdout);
  if (json && (typeof json.completion === "string" || Array.isArray(json.completions))) {
    const items: unknown[] = Array.isArray(json.completions) ? json.completions : [json.completion];
    const completions = items.map(toCompletion);
    const usage = z
      .object({ prompt_tokens: z.number(), completion_tokens: z.number() })
      .safeParse(json.usage);
    return usage.success ? { completions, usage: usage.data } : { completions };
  }
  return { completions: [{ text: stdout.replace(/\r?\n$/, "") }] };
}

function toCompletion(item: unknown): Completion {
  if (typeof item === "string") return { text: item };
  const object = item as { text?: unknown; completion?: unknown; finish_reason?: unknown } | null;
  const text = object?.text ?? object?.completion;
  if (typeof text !== "string")
    throw new ProviderError("bad_response", "completions[] must be strings or {text}");
  const completion: Completion = { text };
  if (typeof object?.finish_reason === "string") completion.finish_reason = object.finish_reason;
  return completion;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.trimStart().startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}
