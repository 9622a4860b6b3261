import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { BenchlineError, type Provider, type ProviderFactory, readJsonl } from "../core/index.js";

const id = z.union([z.string().min(1), z.number()]).transform(String);

/**
 * A line of a responses file, in any of the formats predictions travel in:
 * - `{id, completion}` — several lines with one id are its samples, in file order;
 * - benchline prediction rows `{id, sample, completion, status}` — placed at `sample`; error rows skipped;
 * - `{task_id | id, generated_command}` — a shell-task `commands.jsonl`.
 */
const responseLine = z.union([
  z.object({
    id,
    completion: z.string(),
    sample: z.number().int().nonnegative().optional(),
    status: z.enum(["ok", "error"]).optional(),
  }),
  z
    .object({ id: id.optional(), task_id: id.optional(), generated_command: z.string() })
    .refine((r) => r.id !== undefined || r.task_id !== undefined, "needs id or task_id"),
]);

/** A generated command as a completion the shell task parses back whole (even multi-line). */
const commandAsCompletion = (command: string): string => `\`\`\`sh\n${command}\n\`\`\``;

export interface Responses {
  path: string;
  /** Completions per id, in file order (sample 0, 1, ...). */
  byId: Map<string, string[]>;
  lines: number;
}

/** Reads a responses file; a malformed line is an `input` error naming `file:line`. */
export async function loadResponses(path: string, label = path): Promise<Responses> {
  if (!existsSync(path)) throw new BenchlineError("not_found", `${label}: file not found`);
  const byId = new Map<string, string[]>();
  let lines = 0;
  for await (const { value } of readJsonl(path, {
    schema: responseLine,
    label,
    onTorn: (line) => {
      throw new BenchlineError("input", `${label}:${line}: incomplete last line (not valid JSON)`);
    },
  })) {
    lines++;
    const key = "completion" in value ? value.id : (value.task_id ?? value.id)!;
    const list = byId.get(key) ?? [];
    if ("completion" in value) {
      if (value.status === "error") continue;
      if (value.sample !== undefined) list[value.sample] = value.completion;
      else list.push(value.completion);
    } else list.push(commandAsCompletion(value.generated_command));
    byId.set(key, list);
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
}

/** Compares responses with the dataset ids and the number of samples wanted. */
export function checkResponses(responses: Responses, ids: string[], samples: number): ResponseCheck {
  const wanted = new Set(ids);
  const missing: string[] = [];
  const short: [string, number, number][] = [];
  for (const id of ids) {
    const got = responses.byId.get(id);
    const given = got ? got.slice(0, samples).filter((c) => c !== undefined).length : 0;
    if (!got || given === 0) missing.push(id);
    else if (given < samples) short.push([id, samples, given]);
  }
  let unknown = 0;
  for (const id of responses.byId.keys()) if (!wanted.has(id)) unknown++;
  return { missing, short, unknown };
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
          const text = list[i];
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
