import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { BenchlineError, type Provider, type ProviderFactory, readJsonl } from "../core/index.js";
import { batchLineCompletions, parseCustomId } from "./batch.js";
import type { ModelDeclaration } from "./options.js";

const id = z.union([z.string().min(1), z.number()]).transform(String);

/**
 * A line of a responses file, in any of the formats predictions travel in:
 * - `{id, completion}` — several lines with one id are its samples, in file order;
 * - benchline prediction rows `{id, sample, completion, status}` — placed at `sample`; error rows skipped;
 * - `{task_id | id, generated_command}` — a shell-task `commands.jsonl`;
 * - Batch API output `{custom_id: "<id>#<sample>", response: {body: {choices}}}` — failed lines skipped.
 * A `prompt_hash` (prediction rows carry one) says which prompt the completion answered.
 */
const responseLine = z.union([
  z.object({
    id,
    completion: z.string(),
    sample: z.number().int().nonnegative().optional(),
    status: z.enum(["ok", "error"]).optional(),
    prompt_hash: z.string().optional(),
  }),
  z
    .object({ id: id.optional(), task_id: id.optional(), generated_command: z.string() })
    .refine((r) => r.id !== undefined || r.task_id !== undefined, "needs id or task_id"),
  // A Batch API output line (OpenAI, `vllm run-batch`): `{custom_id, response: {body: {choices}}}`.
  z.object({ custom_id: z.string().min(1), response: z.unknown().optional(), error: z.unknown().optional() }),
]);

/** Import reads only what is listed; sampling params and options would be ignored, so none is taken. */
export const importModel: ModelDeclaration = {
  options: z.strictObject({}),
  model: "required",
  sampling: false,
};

/** A generated command as a completion the shell task parses back whole (even multi-line). */
const commandAsCompletion = (command: string): string => `\`\`\`sh\n${command}\n\`\`\``;

export interface Response {
  text: string;
  /** 1-based line of the responses file. */
  line: number;
  prompt_hash?: string;
}

export interface Responses {
  path: string;
  /** Completions per id, by sample (file order unless a line names its `sample`). */
  byId: Map<string, (Response | undefined)[]>;
  lines: number;
}

/**
 * Reads a responses file; a malformed line is an `input` error naming `file:line`, and so are two
 * lines that give one id and sample different completions (identical repeats are accepted).
 */
export async function loadResponses(path: string, label = path): Promise<Responses> {
  if (!existsSync(path)) throw new BenchlineError("not_found", `${label}: file not found`);
  const byId = new Map<string, (Response | undefined)[]>();
  let lines = 0;
  for await (const { value, line } of readJsonl(path, {
    schema: responseLine,
    label,
    onTorn: (torn) => {
      throw new BenchlineError("input", `${label}:${torn}: incomplete last line (not valid JSON)`);
    },
  })) {
    lines++;
    if ("custom_id" in value) {
      const { id: key, sample } = parseCustomId(value.custom_id);
      const texts = batchLineCompletions(value) ?? [];
      texts.forEach((text, k) => {
        const list = byId.get(key) ?? [];
        byId.set(key, list);
        const at = sample === undefined ? list.length : sample + k;
        const earlier = list[at];
        if (earlier && earlier.text !== text)
          throw new BenchlineError(
            "input",
            `${label}:${line}: id "${key}" sample ${at} has a different completion at line ${earlier.line} (keep one of the two lines)`,
          );
        list[at] = earlier ?? { text, line };
      });
      continue;
    }
    const key = "completion" in value ? value.id : (value.task_id ?? value.id)!;
    const list = byId.get(key) ?? [];
    byId.set(key, list);
    if (!("completion" in value)) {
      list.push({ text: commandAsCompletion(value.generated_command), line });
      continue;
    }
    if (value.status === "error") continue;
    const response: Response = { text: value.completion, line };
    if (value.prompt_hash !== undefined) response.prompt_hash = value.prompt_hash;
    if (value.sample === undefined) {
      list.push(response);
      continue;
    }
    const earlier = list[value.sample];
    if (earlier && earlier.text !== response.text) {
      throw new BenchlineError(
        "input",
        `${label}:${line}: id "${key}" sample ${value.sample} has a different completion at line ${earlier.line} (keep one of the two lines)`,
      );
    }
    if (!earlier) list[value.sample] = response;
  }
  return { path, byId, lines };
}

export interface ResponseCheck {
  /** Dataset ids with no response at all. */
  missing: string[];
  /** Ids with fewer completions than samples: [id, needed, given]. */
  short: [string, number, number][];
  /** Response ids that are not in the dataset. */
  unknown: number;
  /** Dataset ids with more completions than samples (the extra ones are not used). */
  extra: number;
}

/** Compares responses with the dataset ids and the number of samples wanted. */
export function checkResponses(responses: Responses, ids: string[], samples: number): ResponseCheck {
  const wanted = new Set(ids);
  const missing: string[] = [];
  const short: [string, number, number][] = [];
  let extra = 0;
  for (const id of ids) {
    const got = responses.byId.get(id);
    const given = got ? got.slice(0, samples).filter((c) => c !== undefined).length : 0;
    if (!got || given === 0) missing.push(id);
    else if (given < samples) short.push([id, samples, given]);
    if (got && got.length > samples && got.slice(samples).some((c) => c !== undefined)) extra++;
  }
  let unknown = 0;
  for (const id of responses.byId.keys()) if (!wanted.has(id)) unknown++;
  return { missing, short, unknown, extra };
}

/**
 * The first response (of the first `samples`) whose `prompt_hash` is not the hash of the prompt
 * its id gets from the chosen prompt set: completions made for another prompt.
 */
export function findPromptMismatch(
  responses: Responses,
  promptHashes: ReadonlyMap<string, string>,
  samples: number,
): { id: string; line: number; got: string; want: string } | undefined {
  for (const [id, want] of promptHashes) {
    for (const response of responses.byId.get(id)?.slice(0, samples) ?? []) {
      if (response?.prompt_hash !== undefined && response.prompt_hash !== want)
        return { id, line: response.line, got: response.prompt_hash, want };
    }
  }
  return undefined;
}

/**
 * `import:<file>` — predictions from a responses file produced elsewhere (offline inference on
 * another machine, a batch API, a colleague's predictions). Completions are raw model text and
 * are parsed by the task like any live output.
 */
export const createImportProvider: ProviderFactory = (spec, env): Provider => {
  if (!spec.model)
    throw new BenchlineError("config", `model "${spec.id}": import needs a file (import:<responses.jsonl>)`);
  const path = resolve(env.baseDir, spec.model);
  let loaded: Promise<Responses> | undefined;
  return {
    id: spec.id,
    async generate(request, context) {
      loaded ??= loadResponses(path, spec.model);
      const responses = await loaded;
      const list = responses.byId.get(context.sample.id) ?? [];
      return {
        completions: request.sampleIndices.map((i) => {
          const text = list[i]?.text;
          if (text === undefined) {
            throw Object.assign(
              new Error(`no response for id "${context.sample.id}" sample ${i} in ${spec.model}`),
              { code: "missing_response" },
            );
          }
          return { text };
        }),
      };
    },
  };
};
