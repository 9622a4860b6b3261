/** Request/context fixtures and a contract suite every provider test file can call. */
import { expect, it } from "vitest";
import type { GenerateContext, GenerateRequest, ModelSpec, Provider, ProviderEnv } from "../../core/index.js";

export function makeRequest(text: string, overrides: Partial<GenerateRequest> = {}): GenerateRequest {
  const n = overrides.n ?? overrides.sampleIndices?.length ?? 1;
  return {
    messages: [
      { role: "system", content: "be brief" },
      { role: "user", content: text },
    ],
    prompt: text,
    n,
    sampleIndices: Array.from({ length: n }, (_, i) => i),
    ...overrides,
  };
}

export function makeContext(signal: AbortSignal = new AbortController().signal): GenerateContext {
  return { signal, sample: { id: "s1", input: {} } };
}

export function makeSpec(
  provider: string,
  model: string | undefined,
  options: Record<string, unknown> = {},
): ModelSpec {
  const spec: ModelSpec = { id: `${provider}:${model ?? ""}`, provider, params: {}, options };
  if (model !== undefined) spec.model = model;
  return spec;
}

export function makeEnv(env: Record<string, string | undefined> = {}, baseDir = process.cwd()): ProviderEnv {
  return { baseDir, env };
}

/** What every provider promises: its label, one completion per sample, and prompt abort. */
export function providerContract(create: () => Provider | Promise<Provider>, label: string): void {
  it(`${label}: keeps the spec label as its id`, async () => {
    const provider = await create();
    expect(typeof provider.id).toBe("string");
    expect(provider.id.length).toBeGreaterThan(0);
  });

  it(`${label}: answers one string completion per requested sample`, async () => {
    const provider = await create();
    const generation = await provider.generate(makeRequest("contract", { n: 3 }), makeContext());
    expect(generation.completions).toHaveLength(3);
    for (const completion of generation.completions) expect(typeof completion.text).toBe("string");
    await provider.close?.();
  });

  it(`${label}: rejects with code "aborted" when the signal is already aborted`, async () => {
    const provider = await create();
    const controller = new AbortController();
    controller.abort();
    await expect(
      provider.generate(makeRequest("aborted"), makeContext(controller.signal)),
    ).rejects.toMatchObject({
      code: "aborted",
    });
    await provider.close?.();
  });
}
