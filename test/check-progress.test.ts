import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CHECK_PROGRESS_MIN_BYTES, checkReporter } from "../src/cli/downloads.js";
import { runCli, testdir } from "./helpers.js";

/**
 * Nothing is sent before the whole dataset has been checked (a bad row anywhere stops the run
 * before any file is written), so a large file's validation pass is long work with nothing else
 * on the screen: it reports how far it has read.
 */
const config = `name: exp
task: qa
dataset: data.jsonl
models: [{id: gold, provider: gold}]
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
`;

/** Rows of about 1 KiB each, past the size from which the pass reports progress. */
function largeRows(bytes: number): string {
  const padding = "x".repeat(1000);
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `${JSON.stringify({ id: `q${i}`, question: `What is ${i} plus one? ${padding}`, answer: String(i + 1) })}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join("");
}

const checkEvents = (stderr: string) =>
  stderr
    .split("\n")
    .filter((line) => line.startsWith('{"event":"check"'))
    .map((line) => JSON.parse(line) as { file: string; read: number; total: number; done: boolean });

describe("the dataset's validation pass reports progress on a large file", () => {
  const data = largeRows(CHECK_PROGRESS_MIN_BYTES + 2 ** 20);
  const total = Buffer.byteLength(data);

  it("--log json: a check event at the start, every 10 % and at the end; --log plain: the same as lines, before the run's own", () => {
    const dir = testdir({ "exp.yaml": config, "data.jsonl": data });
    const json = runCli(["run", "exp.yaml", "--limit", "2", "--log", "json"], dir);
    expect(json.code, json.stderr).toBe(0);
    const events = checkEvents(json.stderr);
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events.length).toBeLessThanOrEqual(11);
    expect(events.every((e) => e.file === "data.jsonl" && e.total === total)).toBe(true);
    expect(events[0]!.read).toBeLessThan(total / 10);
    for (let i = 1; i < events.length; i++) expect(events[i]!.read).toBeGreaterThan(events[i - 1]!.read);
    expect(events.filter((e) => e.done)).toEqual([
      { event: "check", file: "data.jsonl", read: total, total, done: true },
    ]);
    expect(events.at(-1)!.done).toBe(true);
    // The run itself went on: the two rows of --limit were predicted.
    const runs = join(dir, "runs", "exp");
    const trial = readdirSync(runs).find((d) => d.startsWith("gold__"))!;
    expect(
      readFileSync(join(runs, trial, "predictions.jsonl"), "utf8")
        .trim()
        .split("\n"),
    ).toHaveLength(2);

    const plainDir = testdir({ "exp.yaml": config, "data.jsonl": data });
    const plain = runCli(["run", "exp.yaml", "--limit", "2", "--log", "plain"], plainDir);
    expect(plain.code, plain.stderr).toBe(0);
    const lines = plain.stderr.split("\n");
    const checking = lines.filter((l) => l.startsWith("checking data.jsonl"));
    expect(checking[0]).toMatch(/^checking data\.jsonl {2}\d+\.\d\/17\.\d MiB \(0%\)$/);
    expect(checking.at(-1)).toMatch(/^checking data\.jsonl {2}17\.\d\/17\.\d MiB \(100%\) {2}done$/);
    expect(checking.filter((l) => l.includes("(100%)"))).toHaveLength(1);
    expect(lines.findIndex((l) => l.includes("done"))).toBeLessThan(
      lines.findIndex((l) => l.startsWith("exp: ")),
    );
  });

  it("a small dataset shows none, and a bad row near the end stops the run with no done and nothing written", () => {
    const small = testdir({ "exp.yaml": config, "data.jsonl": largeRows(4096) });
    const quiet = runCli(["run", "exp.yaml", "--log", "json"], small);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(checkEvents(quiet.stderr)).toEqual([]);

    const lines = data.split("\n");
    lines[lines.length - 3] = '{"id": "bad", "answer": "1"}';
    const bad = testdir({ "exp.yaml": config, "data.jsonl": lines.join("\n") });
    const r = runCli(["run", "exp.yaml", "--log", "json"], bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`data.jsonl:${lines.length - 2}: question:`);
    const events = checkEvents(r.stderr);
    expect(events.length).toBeGreaterThan(0);
    expect(events.some((e) => e.done)).toBe(false);
    expect(existsSync(join(bad, "runs"))).toBe(false);
  });
});

describe("checkReporter on a terminal", () => {
  it("redraws one line in place, at most every 100 ms, and ends it with the done line", () => {
    const written: string[] = [];
    const stream = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    const report = checkReporter("auto", stream);
    const total = CHECK_PROGRESS_MIN_BYTES;
    report({ file: "d.jsonl", read: 1, total, done: false });
    report({ file: "d.jsonl", read: 2, total, done: false }); // within 100 ms: not drawn
    report({ file: "d.jsonl", read: total, total, done: true });
    expect(written).toEqual([
      "\r\x1b[2Kchecking d.jsonl  0.0/16.0 MiB (0%)",
      "\r\x1b[2Kchecking d.jsonl  16.0/16.0 MiB (100%)  done\n",
    ]);
    // Below the size: nothing at all.
    const none: string[] = [];
    const quiet = checkReporter("auto", {
      isTTY: true,
      write: (s: string) => none.push(s),
    } as unknown as NodeJS.WriteStream);
    quiet({ file: "d.jsonl", read: 10, total: total - 1, done: true });
    expect(none).toEqual([]);
  });
});
