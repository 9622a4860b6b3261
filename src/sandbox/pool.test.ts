import { describe, expect, it } from "vitest";
import { createLocalSandbox } from "./local.js";
import { SandboxPool } from "./pool.js";

describe("SandboxPool", () => {
  it("keeps at most `concurrency` sandboxes alive and runs the rest in turn", async () => {
    const pool = new SandboxPool(createLocalSandbox(), 2);
    let maxActive = 0;
    let sawWaiting = false;
    const sampler = setInterval(() => {
      maxActive = Math.max(maxActive, pool.active);
      sawWaiting ||= pool.pending > 0;
    }, 5);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        pool.run([{ name: "s", command: `sleep 0.2; echo ${i}` }], { timeoutMs: 5000 }),
      ),
    );
    clearInterval(sampler);
    expect(results.map((result) => result.steps[0]?.stdout)).toEqual([
      "0\n",
      "1\n",
      "2\n",
      "3\n",
      "4\n",
      "5\n",
    ]);
    expect(maxActive).toBe(2);
    expect(sawWaiting).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(580); // three waves of 200 ms
    expect(pool.active).toBe(0);
    expect(pool.name).toBe("local");
  });

  it("frees the slot when a run throws", async () => {
    const pool = new SandboxPool(createLocalSandbox(), 1);
    await expect(pool.run([], { timeoutMs: 1000, files: { "../x": "" } })).rejects.toThrow();
    const { steps } = await pool.run([{ name: "ok", command: "echo ok" }], { timeoutMs: 1000 });
    expect(steps[0]?.stdout).toBe("ok\n");
    expect(pool.active).toBe(0);
  });
});
