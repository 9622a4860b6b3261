import type { Provider, ProviderFactory } from "../core/index.js";

/** Returns the flattened prompt as the completion: shows exactly what a model would be sent. */
export const createEchoProvider: ProviderFactory = (spec): Provider => ({
  id: spec.id,
  async generate(request) {
    return {
      completions: request.sampleIndices.map(() => ({ text: request.prompt, finish_reason: "stop" })),
    };
  },
});
