import {
  BenchlineError,
  type ModelSpec,
  type Provider,
  type ProviderEnv,
  type ProviderFactory,
} from "../core/index.js";
import { createEchoProvider } from "./echo.js";
import { createGoldProvider } from "./gold.js";
import { createImportProvider } from "./import.js";
import { createLlamaCppProvider } from "./llamacpp.js";

/** Providers by registry name (the part of a spec string before the first colon). */
export const providers = {
  gold: createGoldProvider,
  echo: createEchoProvider,
  llamacpp: createLlamaCppProvider,
  import: createImportProvider,
} satisfies Record<string, ProviderFactory>;

export type ProviderName = keyof typeof providers;

export function isProviderName(name: string): name is ProviderName {
  return Object.hasOwn(providers, name);
}

/** Creates the provider for a resolved model spec; unknown names are a `not_found` error. */
export function createProvider(spec: ModelSpec, env: ProviderEnv): Provider {
  if (!isProviderName(spec.provider)) {
    throw new BenchlineError(
      "not_found",
      `unknown provider "${spec.provider}" in model "${spec.id}" (available: ${Object.keys(providers).join(", ")})`,
    );
  }
  return providers[spec.provider](spec, env);
}

export { checkResponses, loadResponses, type ResponseCheck, type Responses } from "./import.js";
