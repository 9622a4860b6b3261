import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepResult } from "../../core/index.js";
import { isTruncated } from "../output.js";
import { type SandboxFactory, type SandboxHarness, useSandbox } from "./contract.js";
import {
  hostAddresses,
  networkProbe,
  type ProbeServer,
  processesLeft,
  startProbeServer,
  uniqueSleep,
} from "./host.js";

/**
 * What an isolating sandbox (bwrap, docker) must contain. Each hostile command must end as a failed
 * step with a recorded reason, leave the host untouched, and the next run must still work.
 */
export function describeContainment(name: string, factory: SandboxFactory): void {
  describe(`${name} sandbox containment`, () => {
    const harness = useSandbox(factory);
    let server: ProbeServer;
    let outside: string;
    beforeAll(async () => {
      server = await startProbeServer();
      outside = mkdtempSync(join(tmpdir(), "benchline-canary-"));
      writeFileSync(join(outside, "canary.txt"), "untouched");
    });
    afterAll(async () => {
      await server.close();
      rmSync(outside, { recursive: true, force: true });
    });

    it("has no network: a TCP server on the host is unreachable", async () => {
      const { steps } = await harness.run([networkProbe(hostAddresses(), server.port)]);
      expectFailedWithReason(steps[0]);
      expect(steps[0]?.stdout).not.toContain(server.token);
      expect(server.connections()).toBe(0);
      await expectStillWorks(harness);
    });

    it("cannot write outside the work dir, and host files stay untouched", async () => {
      const targets = [
        "/etc/bl-probe",
        "/usr/bl-probe",
        "/bl-probe",
        `${homedir()}/bl-probe`,
        `${outside}/canary.txt`,
      ];
      const script = [
        "wrote=1",
        ...targets.map((path) => `if (echo pwned > ${path}); then echo "WROTE ${path}"; wrote=0; fi`),
        `rm -f ${outside}/canary.txt`,
        "exit $wrote",
      ].join("\n");
      const { steps } = await harness.run([script]);
      expectFailedWithReason(steps[0]);
      expect(steps[0]?.stdout).not.toContain("WROTE");
      for (const path of targets.slice(0, -1)) expect(existsSync(path)).toBe(false);
      expect(readFileSync(join(outside, "canary.txt"), "utf8")).toBe("untouched");
      await expectStillWorks(harness);
    });

    it("cannot read the host's home or files outside the sandbox", async () => {
      const hostEntries = readdirSync(homedir());
      const { steps } = await harness.run([`ls -A ${homedir()}; cat ${outside}/canary.txt`]);
      expectFailedWithReason(steps[0]);
      const listed = (steps[0]?.stdout ?? "").split("\n");
      expect(listed.filter((line) => hostEntries.includes(line))).toEqual([]);
      expect(steps[0]?.stdout).not.toContain("untouched");
      await expectStillWorks(harness);
    });

    it("runs code as an unprivileged user", async () => {
      const { steps } = await harness.run(["id -u"]);
      expect(steps[0]?.exit_code).toBe(0);
      expect(steps[0]?.stdout.trim()).not.toBe("0");
    });

    it("contains a fork bomb with the process limit", async () => {
      const marker = uniqueSleep();
      const started = performance.now();
      const { steps } = await harness.run(
        [`i=0; while [ $i -lt 2000 ]; do sleep ${marker} & i=$((i+1)); done; echo spawned=$i`],
        { limits: { pids: 32 }, timeoutMs: 20_000 },
      );
      expect(performance.now() - started).toBeLessThan(15_000);
      expectFailedWithReason(steps[0]);
      expect(steps[0]?.stderr).toMatch(/fork|resource temporarily unavailable/i);
      expect(steps[0]?.stdout).not.toContain("spawned=2000");
      expect(await processesLeft(["sleep", marker])).toEqual([]);
      await expectStillWorks(harness);
    });

    it("fails to allocate far more memory than the limit", async () => {
      // 2^28 bytes fit easily on the host, but not in 64 MB
      const grow = (doublings: number) =>
        `awk 'BEGIN { s = "x"; for (i = 0; i < ${doublings}; i++) s = s s; print "len=" length(s) }'`;
      const { steps } = await harness.run([grow(16), grow(28)], { limits: { memoryMb: 64 } });
      expect(steps[0]).toMatchObject({ exit_code: 0, stdout: "len=65536\n" }); // the command works
      expectFailedWithReason(steps[1]);
      expect(steps[1]?.timed_out).toBe(false);
      expect(steps[1]?.stdout).not.toContain("len=");
      await expectStillWorks(harness);
    });

    it("kills an infinite loop at the timeout", async () => {
      const { steps } = await harness.run([{ command: "while :; do :; done", timeoutMs: 1000 }]);
      expect(steps[0]).toMatchObject({ exit_code: null, timed_out: true });
      expect(steps[0]?.duration_ms).toBeLessThan(5000);
      expectFailedWithReason(steps[0]);
      await expectStillWorks(harness);
    });

    it("stops a busy loop at the CPU-time limit", async () => {
      const { steps } = await harness.run(["while :; do :; done"], {
        limits: { cpuSeconds: 1 },
        timeoutMs: 20_000,
      });
      expect(steps[0]).toMatchObject({ exit_code: 152, timed_out: false }); // 128 + SIGXCPU
      expect(steps[0]?.stderr).toContain("CPU-time limit");
      expect(steps[0]?.duration_ms).toBeLessThan(10_000);
      await expectStillWorks(harness);
    });

    it("stops a file from growing past the file-size limit", async () => {
      const { steps } = await harness.run(
        ["head -c 3000000 /dev/zero > big; status=$?; wc -c < big; exit $status"],
        {
          limits: { fileSizeMb: 1 },
        },
      );
      expectFailedWithReason(steps[0]);
      expect(steps[0]?.stdout.trim()).toBe("1048576");
      await expectStillWorks(harness);
    });

    it("caps unbounded output and ends it at the timeout", async () => {
      const { steps } = await harness.run([{ command: "yes", timeoutMs: 1500 }], {
        limits: { outputBytes: 4096 },
      });
      expect(steps[0]).toMatchObject({ exit_code: null, timed_out: true });
      expect(isTruncated(steps[0]?.stdout ?? "")).toBe(true);
      expect(steps[0]?.stdout.length).toBeLessThan(4096 + 200);
      await expectStillWorks(harness);
    });

    it("ends a background process that left the session (setsid) with the run", async () => {
      const marker = uniqueSleep();
      const { steps } = await harness.run([
        `setsid sleep ${marker} </dev/null >/dev/null 2>&1 & echo detached`,
      ]);
      expect(steps[0]).toMatchObject({ exit_code: 0, stdout: "detached\n" });
      expect(await processesLeft(["sleep", marker])).toEqual([]);
    });
  });
}

/** A contained attempt ends as a failed step (non-zero or timed out) with a reason on stderr. */
export function expectFailedWithReason(step: StepResult | undefined): void {
  expect(step).toBeDefined();
  expect(step?.exit_code !== 0 || step?.timed_out).toBe(true);
  expect(step?.stderr.trim()).not.toBe("");
}

export async function expectStillWorks(harness: SandboxHarness): Promise<void> {
  const { steps } = await harness.run(["echo ok"]);
  expect(steps[0]).toMatchObject({ exit_code: 0, stdout: "ok\n" });
}
