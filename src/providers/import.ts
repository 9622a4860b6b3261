import { existsSync, readFileSync } from "node:fs";
import { extname, resolve } from "node:path";
import { z } from "zod";
import {
  BenchlineError,
  formatIssues,
  type Provider,
  type ProviderFactory,
  readJsonl,
} from "../core/index.js";
import { batchLineCompletions, parseCustomId } from "./batch.js";
import type { ModelDeclaration } from "./options.js";

const id = z.union([z.string().min(1), z.number()]).transform(String);

/**
 * A line of a responses file, in any of the formats predictions travel in:
 * - `{id, completion}` — several lines with one id are its samples, in file order;
 * - benchline prediction rows `{id, sample, completion, status}` — placed at `sample`; error rows skipped;
 * - `{task_id | id, generated_command}` — a shell-task `commands.jsonl`;
 * - Batch API output `{custom_id: "<id>#<sample>", response: {body: {choices}}}` — failed lines skipped.
 * - other tools' prediction rows, see `foreignPrediction`.
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
  z
    .object({
      instance_id: id,
      model_patch: z.string().nullable().optional(),
      full_output: z.string().nullable().optional(),
      status: z.string().optional(),
    })
    .refine(
      (r) => "model_patch" in r || "full_output" in r,
      "needs completion, generated_command, model_patch (SWE-bench) or full_output (EditBench)",
    ),
]);

/** A response line converted to benchline's terms; `undefined` when the line holds no answer. */
interface ForeignPrediction {
  id: string;
  completion: string;
  /** Stored on the prediction row (`model_patch`: the patch as given, evaluated verbatim). */
  extras: Record<string, unknown>;
}

/**
 * Other tools' prediction rows:
 * - SWE-bench predictions `{instance_id, model_name_or_path, model_patch}`: the completion is the
 *   patch, kept verbatim as `model_patch` (a null patch stays null: SWE-bench's `patch_is_None`);
 * - EditBench results `{instance_id, model_name, prompt, full_output, model_patch, status, …}`:
 *   the completion is `full_output`, the file's `model_patch` is what is applied (as EditBench's
 *   evaluation does); `status: "failed"` rows carry no answer and are skipped like error rows.
 */
export function foreignPrediction(value: {
  instance_id: string;
  model_patch?: string | null | undefined;
  full_output?: string | null | undefined;
  status?: string | undefined;
}): ForeignPrediction | undefined {
  if (value.status === "failed") return undefined;
  const extras: Record<string, unknown> = {};
  if (value.model_patch !== undefined) extras.model_patch = value.model_patch;
  if (typeof value.full_output === "string")
    return { id: value.instance_id, completion: value.full_output, extras };
  if (value.full_output === null) return undefined;
  return { id: value.instance_id, completion: value.model_patch ?? "", extras };
}

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
  /** 1-based line of the responses file (the 1-based entry of a `.json` list). */
  line: number;
  prompt_hash?: string;
  /** Stored on the prediction row. */
  extras?: Record<string, unknown>;
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
  for await (const { value, line } of responseEntries(path, label)) {
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
    if ("instance_id" in value) {
      const foreign = foreignPrediction(value);
      if (!foreign) continue;
      const list = byId.get(foreign.id) ?? [];
      byId.set(foreign.id, list);
      list.push({ text: foreign.completion, line, extras: foreign.extras });
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

type ResponseLine = z.infer<typeof responseLine>;

/**
 * The entries of a responses file: JSON Lines, or — for a `.json` file — one JSON list (or an
 * object of entries keyed by id, as SWE-bench accepts); a bad entry names `file:[index]`.
 */
async function* responseEntries(
  path: string,
  label: string,
): AsyncGenerator<{ value: ResponseLine; line: number }> {
  if (extname(path).toLowerCase() !== ".json") {
    yield* readJsonl(path, {
      schema: responseLine,
      label,
      onTorn: (torn) => {
        throw new BenchlineError("input", `${label}:${torn}: incomplete last line (not valid JSON)`);
      },
    });
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new BenchlineError("input", `${label}: not valid JSON (${(error as Error).message})`);
  }
  const entries = Array.isArray(parsed)
    ? parsed
    : parsed !== null && typeof parsed === "object"
      ? Object.values(parsed)
      : undefined;
  if (!entries)
    throw new BenchlineError(
      "input",
      `${label}: expected a JSON list of predictions (or an object of them by id)`,
    );
  for (const [index, entry] of entries.entries()) {
    const result = responseLine.safeParse(entry);
    if (!result.success)
      throw new BenchlineError("input", `${label}:[${index}]: ${formatIssues(result.error.issues)}`);
    yield { value: result.data, line: index + 1 };
  }
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
          const extras = list[i]?.extras;
          if (text === undefined) {
            throw Object.assign(
              new Error(`no response for id "${context.sample.id}" sample ${i} in ${spec.model}`),
              { code: "missing_response" },
            );
          }
          return extras ? { text, extras } : { text };
        }),
      };
    },
  };
};
