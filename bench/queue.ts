/**
 * Distributed runs (issue 14): one coordinator (`run --queue`) and 1, 2, then 3 workers
 * (`benchline worker --concurrency C`), against a loopback model server answering after 100 ms.
 * Each worker can hold C requests, so the ideal rate is workers × C / 0.1 s; the coordinator
 * keeps enough in flight (`concurrency`) for three workers. Reports the run's wall time, the
 * rate (requests ÷ the inference phase's time), and each rate as a ratio to one worker's, measured in the same run.
 *
 *   npx tsx bench/queue.ts [--items 300] [--worker-concurrency 4]
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startOpenAIServer } from "../src/providers/test-utils/openai-server.js";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const items = arg("items", 300);
const perWorker = arg("worker-concurrency", 4);
const root = resolve(import.meta.dirname, "..");
const cli = [
  "--import",
  pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href,
  join(root, "src/cli/bin.ts"),
];
const dir = mkdtempSync(join(tmpdir(), "benchline-queue-"));

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

const port = await freePort();
const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", ""], {
  stdio: "ignore",
});
while (spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout.trim() !== "PONG")
  await new Promise((r) => setTimeout(r, 100));
const server = await startOpenAIServer({ latencyMs: 100, trackPrompts: false });
writeFileSync(
  join(dir, "data.jsonl"),
  Array.from({ length: items }, (_, i) =>
    JSON.stringify({ id: `q${i}`, question: `q ${i}`, answer: "x" }),
  ).join("\n"),
);
writeFileSync(
  join(dir, "exp.yaml"),
  `name: q\ntask: qa\ndataset: data.jsonl\nmodels:\n  - {id: local, provider: vllm, model: tiny, base_url: "${server.url}"}\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\nconcurrency: ${3 * perWorker * 2}\n`,
);

async function startWorker(url: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [...cli, "worker", "--queue", url, "--concurrency", String(perWorker)],
    {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let log = "";
  child.stderr!.on("data", (d: Buffer) => {
    log += d.toString();
  });
  while (!log.includes("serving")) await new Promise((r) => setTimeout(r, 50));
  return child;
}

const rates: number[] = [];
try {
  for (const workers of [1, 2, 3]) {
    const url = `redis://127.0.0.1:${port}/${workers}`;
    const children = await Promise.all(Array.from({ length: workers }, () => startWorker(url)));
    const started = performance.now();
    // Not spawnSync: the model server answers from this process's event loop.
    const r = await new Promise<{ status: number | null; stderr: string; stdout: string }>((done) => {
      const child = spawn(
        process.execPath,
        [...cli, "run", "exp.yaml", "--no-cache", "--name", `w${workers}`, "--queue", url, "--log", "json"],
        { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderr = "";
      let stdout = "";
      child.stdout!.on("data", (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      child.on("close", (status) => done({ status, stderr, stdout }));
    });
    const ms = performance.now() - started;
    if (r.status !== 0) throw new Error(`run failed: ${r.stderr}`);
    // Workers stop after their jobs in hand; wait for them (Redis must outlive their close).
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
          }),
      ),
    );
    // The inference phase's own time (its phase:end event): process start-up is the same for any
    // number of workers and would hide the scaling.
    const phaseMs = (r.stdout + r.stderr)
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { type: string; phase?: string; ms?: number })
      .find((e) => e.type === "phase:end" && e.phase === "inference")?.ms;
    if (phaseMs === undefined) throw new Error("no inference phase:end event");
    const rate = items / (phaseMs / 1000);
    rates.push(rate);
    const ideal = (workers * perWorker) / 0.1;
    console.log(
      `${workers} worker(s) × concurrency ${perWorker}: ${items} requests, inference phase ${(phaseMs / 1000).toFixed(2)} s (whole run ${(ms / 1000).toFixed(2)} s) = ${rate.toFixed(1)} req/s (ideal ${ideal} req/s), ${(rate / rates[0]!).toFixed(2)}× one worker`,
    );
  }
} finally {
  await server.close();
  redis.kill("SIGKILL");
}
