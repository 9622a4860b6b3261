import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import net from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelSpec } from "../core/index.js";
import { makeRequest } from "../providers/test-utils/requests.js";
import { sharedSubRate } from "./sub-limits.js";

/**
 * A guided model's base/oracle limits shared by workers (sub-limits.ts), against a real
 * redis-server on a loopback port: two "workers" are two clients on their own connections.
 */
let server: ChildProcess;
let port: number;
const clients: Redis[] = [];
let db = 0;

beforeAll(async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  server = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: "ignore",
    },
  );
  const deadline = Date.now() + 10_000;
  while (
    spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout.trim() !== "PONG"
  ) {
    if (Date.now() > deadline) throw new Error("redis-server did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  for (const client of clients) client.disconnect();
  server?.kill("SIGKILL");
});

/** Two workers' views of one model entry's shared limits, on a fresh database. */
function twoWorkers(options: Record<string, unknown>) {
  const spec: ModelSpec = {
    id: "oracle",
    provider: "vllm",
    model: "oracle",
    options,
    params: {},
  } as ModelSpec;
  const database = db++;
  return [0, 1].map(() => {
    const client = new Redis({ host: "127.0.0.1", port, db: database, lazyConnect: false });
    clients.push(client);
    return sharedSubRate(spec, client);
  });
}

const signal = () => new AbortController().signal;

describe("shared limits of a guided model's base or oracle", () => {
  it("rpm across workers: a second's burst, then one at the rate, in turn", async () => {
    const [a, b] = twoWorkers({ rpm: 120 }); // 2 a second, a burst of 2
    const started = Date.now();
    const sent = await Promise.all(
      [a, b, a, b, a].map(async (w) => {
        await w!.take(makeRequest("x"), signal());
        return Date.now() - started;
      }),
    );
    sent.sort((x, y) => x - y);
    expect(sent[1]).toBeLessThan(250);
    // Then 500 ms apart: 500, 1000, 1500 (each worker alone would send 2 at once, then 1 at 500).
    expect(sent[2]).toBeGreaterThanOrEqual(450);
    expect(sent[3]).toBeGreaterThanOrEqual(950);
    expect(sent[4]).toBeGreaterThanOrEqual(1450);
    expect(sent[4]).toBeLessThan(2500);
  });

  it("rpm and tpm together: a request goes when both allow it and is charged to both then", async () => {
    // rpm 60: one a second (burst 1); tpm 600: 10 tokens a second (burst 10).
    const [a, b] = twoWorkers({ rpm: 60, tpm: 600 });
    const started = Date.now();
    const at = async (w: typeof a, prompt: string) => {
      await w!.take(makeRequest(prompt), signal());
      return Date.now() - started;
    };
    const big = await at(a, "y".repeat(120)); // 30 tokens: the tokens bucket 20 in debt
    const [small1, small2] = await Promise.all([at(b, "z"), at(a, "z")]);
    expect(big).toBeLessThan(250);
    const [first, second] = [small1, small2].sort((x, y) => x - y);
    // Tokens: 21 to refill at 10 a second (2.1 s); then the request bucket, charged at 2.1 s,
    // holds the next one another second (3.1 s), not 0.1 s (the tokens alone).
    expect(first).toBeGreaterThanOrEqual(2000);
    expect(first).toBeLessThan(2600);
    expect(second! - first!).toBeGreaterThanOrEqual(900);
    expect(second! - first!).toBeLessThan(1400);
  });

  it("a 429 with Retry-After holds back both workers and moves booked requests on, in order and spaced", async () => {
    const [a, b] = twoWorkers({ rpm: 120 }); // 500 ms apart after a burst of 2
    const started = Date.now();
    const first = await a!.take(makeRequest("x"), signal());
    await b!.take(makeRequest("x"), signal()); // the burst's second
    const times = Promise.all(
      [b, a, b].map(async (w) => {
        await w!.take(makeRequest("x"), signal());
        return Date.now() - started;
      }),
    );
    // The first request's answer is a 429 asking for 1 s, before the others' turns (500, 1000, 1500).
    await first({ error: { code: "http_429", retryAfterMs: 1000 } });
    const sent = (await times).sort((x, y) => x - y);
    // All held until the pause is over (≈1 s; each moved on by it: 1500, 2000, 2500), then still
    // 500 ms apart: not three at once when it ends.
    expect(sent[0]).toBeGreaterThanOrEqual(1000);
    expect(sent[1]! - sent[0]!).toBeGreaterThanOrEqual(400);
    expect(sent[2]! - sent[1]!).toBeGreaterThanOrEqual(400);
  });

  it("a pause is lengthened, never shortened, and a request booked after it waits behind those moved on", async () => {
    const [a, b] = twoWorkers({ rpm: 120 });
    const started = Date.now();
    const first = await a!.take(makeRequest("x"), signal());
    await b!.take(makeRequest("x"), signal());
    const moved = b!.take(makeRequest("x"), signal()).then(() => Date.now() - started); // booked at 500
    await first({ error: { code: "http_429", retryAfterMs: 1000 } });
    await first({ error: { code: "http_429", retryAfterMs: 100 } }); // shorter: changes nothing
    await new Promise((r) => setTimeout(r, 50)); // the pauses are sent without waiting for them
    const later = await a!.take(makeRequest("x"), signal()).then(() => Date.now() - started);
    expect(await moved).toBeGreaterThanOrEqual(1450);
    expect(later - (await moved)).toBeGreaterThanOrEqual(450);
  });

  it("a worker stopping aborts a request waiting its turn at once", async () => {
    const [a] = twoWorkers({ rpm: 6 }); // one every 10 s
    await a!.take(makeRequest("x"), signal());
    const stop = new AbortController();
    const waiting = a!.take(makeRequest("x"), stop.signal);
    setTimeout(() => stop.abort(), 100);
    const started = Date.now();
    await expect(waiting).rejects.toMatchObject({ code: "aborted" });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("the tokens bucket is charged what the server reported, not only the estimate", async () => {
    const [a, b] = twoWorkers({ tpm: 600 }); // 10 tokens a second, burst 10
    const settle = await a!.take(makeRequest("zzzz"), signal()); // estimated 1 token
    await settle({ generation: { completions: [], usage: { prompt_tokens: 1, completion_tokens: 30 } } });
    await new Promise((r) => setTimeout(r, 100)); // the charge is not awaited by the answer
    const started = Date.now();
    await b!.take(makeRequest("zzzz"), signal());
    // 9 + 30 - 1 = 30 more than the estimate: the bucket at -21 needs ~2.2 s to hold 1 token again.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1800);
  });
});
