import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BenchlineError,
  type Sandbox,
  type SandboxResult,
  type SandboxRunOptions,
} from "../../core/index.js";
import { isTruncated } from "../output.js";
import { processesLeft, uniqueSleep } from "./host.js";

/**
 * The contract every Sandbox implementation passes. A new implementation's test file is one call:
 * `describeSandboxContract("bwrap", () => createBwrapSandbox())`.
 */

export type SandboxFactory = () => Sandbox | Promise<Sandbox>;

/** A harness around one sandbox: runs steps and checks no host secret leaked into the result. */
export interface SandboxHarness {
  readonly sandbox: Sandbox;
  /** The fake API key set in the harness's environment while the suite runs. */
  readonly canary: string;
  run(
    commands: Array<string | { command: string; timeoutMs?: number }>,
    options?: Partial<SandboxRunOptions>,
  ): Promise<SandboxResult>;
}

/** Sets up a harness in the enclosing describe (beforeAll/afterAll). */
export function useSandbox(factory: SandboxFactory): SandboxHarness {
  const canary = `sk-canary-${randomUUID()}`;
  const saved = {
    OPENAI_API_KEY: process.env.OPENAI_API_KEY,
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
  };
  let sandbox: Sandbox | undefined;
  beforeAll(async () => {
    process.env.OPENAI_API_KEY = canary;
    process.env.AWS_SECRET_ACCESS_KEY = canary;
    sandbox = await factory();
  });
  afterAll(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await sandbox?.close?.();
  });
  return {
    canary,
    get sandbox(): Sandbox {
      if (!sandbox) throw new Error("sandbox used outside a test");
      return sandbox;
    },
    async run(commands, options = {}) {
      const steps = commands.map((step, i) =>
        typeof step === "string" ? { name: `step-${i}`, command: step } : { name: `step-${i}`, ...step },
      );
      const result = await this.sandbox.run(steps, { timeoutMs: 15_000, ...options });
      expect(JSON.stringify(result)).not.toContain(canary);
      return result;
    },
  };
}

export function describeSandboxContract(name: string, factory: SandboxFactory): void {
  describe(`${name} sandbox contract`, () => {
    const harness = useSandbox(factory);

    it("reports each step's exit code, stdout, stderr and duration", async () => {
      const { steps } = await harness.run(["echo out; echo err >&2; exit 3", "printf 'no newline'"]);
      expect(steps).toHaveLength(2);
      expect(steps[0]).toMatchObject({
        name: "step-0",
        command: "echo out; echo err >&2; exit 3",
        exit_code: 3,
        stdout: "out\n",
        stderr: "err\n",
        timed_out: false,
      });
      expect(steps[0]?.duration_ms).toBeGreaterThanOrEqual(0);
      expect(steps[1]).toMatchObject({ exit_code: 0, stdout: "no newline", stderr: "" });
    });

    it("runs the steps in order in one shared work dir", async () => {
      const { steps } = await harness.run([
        "echo 1 > log",
        "echo 2 >> log",
        "echo 3 >> log",
        "echo 4 >> log",
        "cat log",
      ]);
      expect(steps.map((step) => step.exit_code)).toEqual([0, 0, 0, 0, 0]);
      expect(steps.at(-1)?.stdout).toBe("1\n2\n3\n4\n");
    });

    it("stops at the first failing step only with stopOnFailure", async () => {
      const commands = ["true", "exit 7", "echo reached"];
      const all = await harness.run(commands);
      expect(all.steps.map((step) => step.exit_code)).toEqual([0, 7, 0]);
      const stopped = await harness.run(commands, { stopOnFailure: true });
      expect(stopped.steps.map((step) => step.exit_code)).toEqual([0, 7]);
    });

    it("writes files before the first step and collects files after the last", async () => {
      const result = await harness.run(
        ["cat in.txt dir/nested.txt > out.txt", "mkdir -p res && echo r > res/r.txt"],
        {
          files: { "in.txt": "hello ", "dir/nested.txt": "nested" },
          collect: ["out.txt", "res/r.txt", "missing.txt", "dir"],
        },
      );
      expect(result.steps.map((step) => step.exit_code)).toEqual([0, 0]);
      expect(result.files).toEqual({ "out.txt": "hello nested", "res/r.txt": "r\n" });
    });

    it("rejects file paths that would leave the work dir", async () => {
      await expect(harness.run(["true"], { files: { "../escape.txt": "x" } })).rejects.toBeInstanceOf(
        BenchlineError,
      );
      await expect(harness.run(["true"], { files: { "/etc/escape.txt": "x" } })).rejects.toBeInstanceOf(
        BenchlineError,
      );
      await expect(harness.run(["true"], { collect: ["a/../../etc/passwd"] })).rejects.toBeInstanceOf(
        BenchlineError,
      );
    });

    it("starts every run from a fresh, empty work dir", async () => {
      await harness.run(["echo stale > leftover.txt"]);
      const { steps } = await harness.run(["ls -A; test ! -e leftover.txt"]);
      expect(steps[0]).toMatchObject({ exit_code: 0, stdout: "" });
    });

    it("kills the whole process tree on timeout, records it and runs the next step", async () => {
      const marker = uniqueSleep();
      const started = performance.now();
      const { steps } = await harness.run([
        { command: `sleep ${marker} & echo started; sleep 1000`, timeoutMs: 1000 },
        "echo after",
      ]);
      expect(performance.now() - started).toBeLessThan(8000);
      expect(steps[0]).toMatchObject({ exit_code: null, timed_out: true, stdout: "started\n" });
      expect(steps[0]?.stderr).toContain("timed out after 1000 ms");
      expect(steps[1]).toMatchObject({ exit_code: 0, stdout: "after\n", timed_out: false });
      expect(await processesLeft(["sleep", marker])).toEqual([]);
    });

    it("ends processes a step leaves in the background", async () => {
      const quiet = uniqueSleep();
      const noisy = uniqueSleep();
      const started = performance.now();
      const { steps } = await harness.run([`sleep ${quiet} >/dev/null 2>&1 & sleep ${noisy} & echo left`]);
      expect(steps[0]).toMatchObject({ exit_code: 0, stdout: "left\n", timed_out: false });
      expect(performance.now() - started).toBeLessThan(5000);
      expect(await processesLeft(["sleep", quiet])).toEqual([]);
      expect(await processesLeft(["sleep", noisy])).toEqual([]);
    });

    it("caps stdout and stderr and records the truncation", async () => {
      const { steps } = await harness.run(
        ["head -c 5000 /dev/zero | tr '\\0' a; head -c 3000 /dev/zero | tr '\\0' b >&2; echo done > f"],
        { limits: { outputBytes: 1000 } },
      );
      const [step] = steps;
      expect(step?.exit_code).toBe(0);
      expect(step?.stdout.startsWith("a".repeat(1000))).toBe(true);
      expect(step?.stdout).not.toContain("a".repeat(1001));
      expect(isTruncated(step?.stdout ?? "")).toBe(true);
      expect(step?.stdout).toContain("4000 more bytes");
      expect(step?.stderr.startsWith("b".repeat(1000))).toBe(true);
      expect(step?.stderr).toContain("2000 more bytes");
    });

    it("gives commands a clean environment plus options.env, never the host's", async () => {
      const { steps } = await harness.run(['env; echo "home=$HOME path=$PATH"; cat /proc/self/environ'], {
        env: { BENCHLINE_TASK_VAR: "given" },
      });
      const output = steps[0]?.stdout ?? "";
      expect(output).toContain("BENCHLINE_TASK_VAR=given");
      expect(output).toMatch(/home=\/\S+ path=\S*\/bin/);
      expect(output).not.toContain("OPENAI_API_KEY");
      expect(output).not.toContain("AWS_SECRET_ACCESS_KEY");
      expect(output).not.toContain(harness.canary);
    });

    it("defect 8.1: an aborted run kills its process tree and throws instead of returning a result", async () => {
      const marker = uniqueSleep();
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const started = performance.now();
      const run = harness.run([`sleep ${marker} & sleep 1000`, "echo never"], { signal: controller.signal });
      await expect(run).rejects.toMatchObject({ name: "AbortError", code: "aborted" });
      expect(performance.now() - started).toBeLessThan(8000);
      expect(await processesLeft(["sleep", marker])).toEqual([]);
      const before = new AbortController();
      before.abort();
      await expect(harness.run(["echo never"], { signal: before.signal })).rejects.toMatchObject({
        name: "AbortError",
      });
    });
  });
}
