import { describe, expect, it } from "vitest";
import { BenchlineError } from "../core/index.js";
import {
  createSandbox,
  defaultSandboxKind,
  executionDefaults,
  isBwrapUsable,
  parseExecutionConfig,
  resolveExecution,
  sandboxKinds,
} from "./index.js";

describe("execution config", () => {
  it("turns an execution block into a sandbox config, run defaults and a concurrency", () => {
    const config = parseExecutionConfig({
      sandbox: "docker",
      timeout: 2.5,
      concurrency: 3,
      memory_mb: 256,
      pids: 64,
      cpu_seconds: 10,
      file_size_mb: 8,
      output_bytes: 4096,
      image: "python:3.12-slim",
      docker_host: "unix:///run/docker.sock",
    });
    expect(resolveExecution(config)).toEqual({
      sandbox: { kind: "docker", image: "python:3.12-slim", dockerHost: "unix:///run/docker.sock" },
      run: {
        timeoutMs: 2500,
        limits: { memoryMb: 256, pids: 64, cpuSeconds: 10, fileSizeMb: 8, outputBytes: 4096 },
      },
      concurrency: 3,
    });
  });

  it("fills defaults and detects the sandbox kind when the block is empty", () => {
    const resolved = resolveExecution(parseExecutionConfig(undefined), () => "local");
    expect(resolved.sandbox.kind).toBe("local");
    expect(resolved.run).toEqual({ timeoutMs: executionDefaults.timeoutSeconds * 1000, limits: {} });
    expect(resolved.concurrency).toBe(executionDefaults.concurrency);
  });

  it.each([
    [{ memroy_mb: 10 }, "execution.memroy_mb"],
    [{ sandbox: "chroot" }, "execution.sandbox"],
    [{ timeout: -1 }, "execution.timeout"],
    [{ pids: 1.5 }, "execution.pids"],
    [{ sandbox: "docker" }, "execution.image"],
  ])("rejects %j naming %s", (block, field) => {
    let error: unknown;
    try {
      parseExecutionConfig(block);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(BenchlineError);
    expect(error).toMatchObject({ code: "config" });
    expect((error as Error).message.startsWith(`${field}:`)).toBe(true);
  });
});

describe("createSandbox", () => {
  it("creates each kind of the map", () => {
    expect(Object.keys(sandboxKinds).sort()).toEqual(["bwrap", "docker", "local"]);
    expect(createSandbox({ kind: "local" }).name).toBe("local");
    expect(createSandbox({ kind: "bwrap" }).name).toBe("bwrap");
    expect(createSandbox({ kind: "docker", image: "busybox" }).name).toBe("docker:busybox");
  });

  it("needs an image for docker and a known kind", () => {
    expect(() => createSandbox({ kind: "docker" })).toThrow(BenchlineError);
    expect(() => createSandbox({ kind: "chroot" as "local" })).toThrow(/unknown sandbox kind/);
  });

  it("defaults to bwrap where bubblewrap works, else local", () => {
    expect(defaultSandboxKind()).toBe(isBwrapUsable() ? "bwrap" : "local");
  });
});
