import { z } from "zod";
import { BenchlineError, type Provider, type ProviderFactory } from "../core/index.js";
import type { ModelDeclaration } from "./options.js";

/** Gold takes nothing: no model, no options, no sampling params. */
export const goldModel: ModelDeclaration = { options: z.strictObject({}), model: "none", sampling: false };

/**
 * Answers every sample with the task's reference answer. A harness check: gold must score 100%
 * (as SWE-bench validates its harness with the gold patches).
 */
export const createGoldProvider: ProviderFactory = (spec): Provider => ({
  id: spec.id,
  async generate(request, context) {
    if (context.reference === undefined) {
      const error = new BenchlineError(
        "input",
        `sample "${context.sample.id}" has no reference answer for the gold provider`,
      );
      throw Object.assign(error, { code: "no_reference" });
    }
    const text = context.reference;
    return { completions: request.sampleIndices.map(() => ({ text, finish_reason: "stop" })) };
  },
});
