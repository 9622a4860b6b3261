import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { createBwrapSandbox, isBwrapUsable } from "./bwrap.js";
import { describeContainment } from "./test-utils/containment.js";
import { describeSandboxContract } from "./test-utils/contract.js";
import { processesLeft, uniqueSleep, waitForProcess } from "./test-utils/host.js";

const usable = isBwrapUsable();
if (!usable) console.warn("bwrap sandbox tests skipped: bubblewrap cannot create namespaces here");

describe.skipIf(!usable)("bwrap", () => {
  describeSandboxContract("bwrap", () => createBwrapSandbox());
  describeContainment("bwrap", () => createBwrapSandbox());

  it("runs step code as an unprivileged host uid without capabilities", async () => {
    const marker = uniqueSleep();
    const run = createBwrapSandbox().run([{ name: "sleep", command: `sleep ${marker}` }], {
      timeoutMs: 3000,
    });
    const pid = await waitForProcess(["sleep", marker]);
    const status = pid === undefined ? "" : readFileSync(`/proc/${pid}/status`, "utf8");
    await run;
    const expected = process.getuid?.() === 0 ? 65534 : process.getuid?.();
    expect(status).toMatch(new RegExp(`^Uid:\\t${expected}\\t${expected}\\t${expected}\\t${expected}$`, "m"));
    expect(status).toMatch(/^CapEff:\t0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\t1$/m);
  });

  it("keeps /tmp and the work dir across the steps of a run, also past a timeout (a second launch)", async () => {
    const { steps } = await createBwrapSandbox().run(
      [
        { name: "write", command: "echo kept > /tmp/t; echo work > w" },
        { name: "hang", command: "sleep 100", timeoutMs: 500 },
        { name: "read", command: "cat /tmp/t w" },
      ],
      { timeoutMs: 5000 },
    );
    expect(steps[1]).toMatchObject({ timed_out: true, exit_code: null });
    expect(steps[2]).toMatchObject({ exit_code: 0, stdout: "kept\nwork\n" });
  });

  it("fails a step whose code kills the sandbox's driver, and runs the next step", async () => {
    const { steps } = await createBwrapSandbox().run(
      [
        { name: "kill", command: "kill -9 $PPID; sleep 5" },
        { name: "next", command: "echo next" },
      ],
      { timeoutMs: 10_000 },
    );
    expect(steps[0]?.exit_code).toBe(137);
    expect(steps[0]?.duration_ms).toBeLessThan(4000);
    expect(steps[0]?.stderr).toContain("ended before the step did");
    expect(steps[1]).toMatchObject({ exit_code: 0, stdout: "next\n" });
  });

  it("a sandbox does not outlive the Node process that started it, even after kill -9", async () => {
    const marker = uniqueSleep();
    const dir = mkdtempSync(join(tmpdir(), "benchline-orphan-"));
    const script = join(dir, "run.mts");
    const module = pathToFileURL(resolve(import.meta.dirname, "bwrap.ts")).href;
    writeFileSync(
      script,
      `import { createBwrapSandbox } from ${JSON.stringify(module)};\n` +
        `await createBwrapSandbox().run([{ name: "s", command: "sleep ${marker}" }], { timeoutMs: 600000 });\n`,
    );
    const loader = pathToFileURL(resolve(import.meta.dirname, "../../node_modules/tsx/dist/loader.mjs")).href;
    const child = spawn(process.execPath, ["--import", loader, script], { stdio: "ignore" });
    try {
      expect(await waitForProcess(["sleep", marker], 20_000)).toBeDefined();
      child.kill("SIGKILL");
      expect(await processesLeft(["sleep", marker], 5000)).toEqual([]);
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);

  it("binds readOnlyPaths read-only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "benchline-ro-"));
    writeFileSync(join(dir, "tool.txt"), "tool");
    chmodSync(dir, 0o755);
    try {
      const sandbox = createBwrapSandbox({ readOnlyPaths: [dir] });
      const { steps } = await sandbox.run(
        [
          { name: "read", command: `cat ${dir}/tool.txt` },
          { name: "write", command: `echo x > ${dir}/tool.txt` },
        ],
        { timeoutMs: 5000 },
      );
      expect(steps[0]).toMatchObject({ exit_code: 0, stdout: "tool" });
      expect(steps[1]?.exit_code).not.toBe(0);
      expect(readFileSync(join(dir, "tool.txt"), "utf8")).toBe("tool");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
