import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalSandbox } from "./local.js";
import { describeSandboxContract } from "./test-utils/contract.js";
import { hostAddresses, networkProbe, type ProbeServer, startProbeServer } from "./test-utils/host.js";

describeSandboxContract("local", () => createLocalSandbox());

describe("local sandbox", () => {
  let server: ProbeServer;
  beforeAll(async () => {
    server = await startProbeServer();
  });
  afterAll(() => server.close());

  it("says that it does not isolate", () => {
    expect(createLocalSandbox().description).toMatch(/NO isolation/);
  });

  // The control for the containment suite's network test: the same probe does get through here.
  it("reaches the host's network, so the network probe is known to work", async () => {
    const { steps } = await createLocalSandbox().run(
      [{ name: "probe", command: networkProbe(hostAddresses(), server.port) }],
      {
        timeoutMs: 10_000,
      },
    );
    expect(steps[0]?.exit_code).toBe(0);
    expect(steps[0]?.stdout).toContain(server.token);
    expect(server.connections()).toBeGreaterThan(0);
  });
});
