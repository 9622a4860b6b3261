import { z } from "zod";
import type { Provider, ProviderFactory } from "../core/index.js";
import { contextLengthOption, type ModelDeclaration } from "./options.js";

/** Echo shows the prompt as sent, so `context_length` (truncation) shows; sampling has no effect. */
export const echoModel: ModelDeclaration = {
  options: z.strictObject({ ...contextLengthOption }),
  model: "none",
  sampling: false,
};

/** Returns the flattened prompt as the completion: shows exactly what a model would be sent. */
export const createEchoProvider: ProviderFactory = (spec): Provider => ({
  id: spec.id,
  async generate(request) {
    return {
      completions: request.sampleIndices.map(() => ({ text: request.prompt, finish_reason: "stop" })),
    };
  },
});
