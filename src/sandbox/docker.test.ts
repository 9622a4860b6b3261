import { afterAll, describe, expect, it } from "vitest";
import { BenchlineError } from "../core/index.js";
import { createDockerSandbox } from "./docker.js";
import { dockerJson } from "./docker-api.js";
import { describeContainment } from "./test-utils/containment.js";
import { describeSandboxContract } from "./test-utils/contract.js";
import { startTestDockerd } from "./test-utils/dockerd.js";

// A private dockerd with a locally built busybox image: no registry, no host docker needed.
const started = await startTestDockerd();
if (!started.ok) console.warn(`docker sandbox tests skipped: ${started.reason}`);
afterAll(async () => {
  if (started.ok) await started.docker.stop();
});

const docker = () => {
  if (!started.ok) throw new Error(started.reason);
  return started.docker;
};
const factory = () =>
  createDockerSandbox({ image: docker().image, dockerHost: `unix://${docker().socketPath}` });

describe.skipIf(!started.ok)("docker", () => {
  describeSandboxContract("docker", factory);
  describeContainment("docker", factory);

  it("removes every container it created, also after timeouts and errors", async () => {
    await factory().run([{ name: "hang", command: "sleep 1000", timeoutMs: 500 }], { timeoutMs: 5000 });
    await expect(
      factory().run([{ name: "x", command: "true" }], { timeoutMs: 5000, files: { "../x": "" } }),
    ).rejects.toThrow();
    const containers = await dockerJson<unknown[]>(
      { socketPath: docker().socketPath },
      {
        method: "GET",
        path: `/containers/json?all=true&filters=${encodeURIComponent('{"label":["benchline.sandbox"]}')}`,
      },
    );
    expect(containers).toEqual([]);
  });

  it("fails the run with a coded error when the image does not exist", async () => {
    const sandbox = createDockerSandbox({
      image: "benchline-test/missing:latest",
      dockerHost: docker().socketPath,
    });
    await expect(sandbox.run([{ name: "x", command: "true" }], { timeoutMs: 5000 })).rejects.toMatchObject({
      code: "docker_api",
      status: 404,
    });
  });
});

describe.skipIf(!started.ok)("docker start-up check", () => {
  it("passes for a running daemon with the image, and names a missing image once", async () => {
    await expect(factory().start?.()).resolves.toBeUndefined();
    const missing = createDockerSandbox({
      image: "benchline-test/missing:latest",
      dockerHost: docker().socketPath,
    });
    await expect(missing.start?.()).rejects.toThrow(
      /image benchline-test\/missing:latest is not on the daemon.*docker pull/,
    );
  });
});

describe("docker sandbox config", () => {
  it("says where it looked and how to start dockerd when no daemon answers", async () => {
    const sandbox = createDockerSandbox({
      image: "x",
      dockerHost: "unix:///nonexistent/benchline/docker.sock",
    });
    await expect(sandbox.start?.()).rejects.toMatchObject({
      name: "BenchlineError",
      code: "config",
      message: expect.stringMatching(/\/nonexistent\/benchline\/docker\.sock \(ENOENT\).*dockerd/),
    });
  });

  it("accepts unix sockets only", () => {
    expect(createDockerSandbox({ image: "x", dockerHost: "/run/docker.sock" }).name).toBe("docker:x");
    expect(() => createDockerSandbox({ image: "x", dockerHost: "tcp://10.0.0.1:2375" })).toThrow(
      BenchlineError,
    );
  });
});
