import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BenchlineError } from "../core/index.js";
import { createCommandProvider } from "./command.js";
import { makeContext, makeEnv, makeRequest, makeSpec, providerContract } from "./test-utils/requests.js";

const dir = mkdtempSync(join(tmpdir(), "benchline-command-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes an executable script into the temp dir and returns its relative path. */
function script(name: string, body: string): string {
  writeFileSync(join(dir, name), body);
  chmodSync(join(dir, name), 0o755);
  return `./${name}`;
}

const NODE = process.execPath;

/** Alive and not a zombie (an init that does not reap leaves killed orphans as zombies). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}
const command = (path: string, options: Record<string, unknown> = {}) =>
  createCommandProvider(makeSpec("command", path, options), makeEnv(process.env, dir));

const echoJson = script(
  "echo-json.mjs",
  `#!${NODE}
let input = "";
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);
const completions = request.sample_indices.map((s) => ({ text: request.prompt + "#" + s + "@" + request.seed, finish_reason: "stop" }));
process.stdout.write(JSON.stringify({ completions, usage: { prompt_tokens: 3, completion_tokens: 2 } }));
`,
);

describe("command provider", () => {
  providerContract(() => command(echoJson), "command");

  it("sends the request as JSON on stdin and reads {completions} with usage; with a seed, sample i runs alone with seed + i", async () => {
    const generation = await command(echoJson).generate(
      makeRequest("hi", { sampleIndices: [3, 4], seed: 9 }),
      makeContext(),
    );
    expect(generation).toEqual({
      completions: [
        { text: "hi#3@12", finish_reason: "stop" },
        { text: "hi#4@13", finish_reason: "stop" },
      ],
      usage: { prompt_tokens: 6, completion_tokens: 4 },
      cost_usd: 0,
    });
    const priced = command(echoJson, { price: { input: 1, output: 2 } });
    expect((await priced.generate(makeRequest("hi"), makeContext())).cost_usd).toBeCloseTo(7e-6, 12);
  });

  it("reads {completion} and plain text; plain text with n > 1 runs once per missing sample", async () => {
    const single = script("single.sh", `#!/bin/sh\ncat >/dev/null\necho '{"completion": "forty-two"}'\n`);
    expect((await command(single).generate(makeRequest("q"), makeContext())).completions).toEqual([
      { text: "forty-two" },
    ]);
    const counter = join(dir, "runs.txt");
    const plain = script(
      "plain.sh",
      `#!/bin/sh\necho run >> "${counter}"\ncat | head -c 0\nprintf 'line one\\nline two\\n'\n`,
    );
    const generation = await command(plain).generate(makeRequest("q", { n: 3 }), makeContext());
    expect(generation.completions.map((c) => c.text)).toEqual(Array(3).fill("line one\nline two"));
    expect(readFileSync(counter, "utf8").trim().split("\n")).toHaveLength(3);
  });

  it("turns a non-zero exit into command_failed with the tail of stderr", async () => {
    const failing = script(
      "fail.sh",
      `#!/bin/sh\necho "loading model" >&2\necho "CUDA out of memory" >&2\nexit 3\n`,
    );
    await expect(command(failing).generate(makeRequest("q"), makeContext())).rejects.toMatchObject({
      code: "command_failed",
      message: expect.stringMatching(/exited with code 3: loading model\s+CUDA out of memory$/),
    });
  });

  it("kills a program that runs past its timeout, children included", async () => {
    const pidFile = join(dir, "child.pid");
    const slow = script("slow.sh", `#!/bin/sh\nsleep 30 &\necho $! > "${pidFile}"\nwait\n`);
    const started = Date.now();
    await expect(
      command(slow, { timeout: 0.3 }).generate(makeRequest("q"), makeContext()),
    ).rejects.toMatchObject({
      code: "timeout",
    });
    expect(Date.now() - started).toBeLessThan(2000);
    const child = Number(readFileSync(pidFile, "utf8"));
    await new Promise((r) => setTimeout(r, 50));
    expect(isRunning(child)).toBe(false); // the script's own child is gone too
  });

  it("stops the program when the caller aborts", async () => {
    const slow = script("slow2.sh", `#!/bin/sh\nsleep 30\n`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(
      command(slow).generate(makeRequest("q"), makeContext(controller.signal)),
    ).rejects.toMatchObject({
      code: "aborted",
    });
  });

  it("resolves the path against the experiment directory and reports a missing one", () => {
    expect(() => command("./nope.sh")).toThrow(BenchlineError);
    expect(() => createCommandProvider(makeSpec("command", undefined), makeEnv({}, dir))).toThrow(
      /needs a path/,
    );
  });
});
