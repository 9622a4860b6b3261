import { readdirSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type OpenAIServer,
  startOpenAIServer,
  TEST_CERT,
} from "../src/providers/test-utils/openai-server.js";
import { qaRows, runCliAsync, spawnCli, testdir } from "./helpers.js";

let server: OpenAIServer;
beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(async () => {
  await server.close();
});

const config = (model: string, extra = "") => `
name: live
task: qa
dataset: data.jsonl
models:
  - ${model}
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
${extra.includes("concurrency:") ? "" : "concurrency: 8\n"}${extra}`;

const model = (extra = "") =>
  `{id: local, provider: vllm, model: tiny, base_url: "${server.url}", api_key_env: BENCH_KEY, max_attempts: 3, timeout: 1${extra}}`;

function predictions(dir: string, name = "live", out = "runs") {
  const exp = join(dir, out, name);
  const [trial] = readdirSync(exp).filter((d) => d.includes("__"));
  return readFileSync(join(exp, trial!, "predictions.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

/** Rows in the single trial's predictions file so far (0 before it exists). */
function countRows(dir: string, name = "live"): number {
  try {
    return predictions(dir, name).length;
  } catch {
    return 0;
  }
}

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? allFiles(path) : [path];
  });
}

const env = { BENCH_KEY: "sk-canary-5f1e0c9d" };

describe("live inference against a local OpenAI-compatible server", () => {
  it("survives 429s, 500s, resets, malformed JSON and hangs: every row ok or a recorded error, none lost or duplicated", async () => {
    server.setFaults(({ index }) =>
      index % 7 === 3
        ? "429"
        : index % 11 === 5
          ? "500"
          : index % 13 === 6
            ? "reset"
            : index % 17 === 8
              ? "malformed"
              : index === 20
                ? "hang"
                : undefined,
    );
    const dir = testdir({ "exp.yaml": config(model()), "data.jsonl": qaRows(60) });
    try {
      const first = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, env);
      expect(first.code).toBe(0);
      let rows = predictions(dir);
      const keys = rows.map((r) => `${r.id}/${r.sample}`);
      expect(new Set(keys).size).toBe(60);
      for (const r of rows) {
        if (r.status === "ok") expect(r.completion).toMatch(/^chat 0 seed=- \| What is \d+ plus one\?$/);
        else expect(r.error.code).toMatch(/^(http_\d+|timeout|connection|bad_response)$/);
      }
      expect(rows.filter((r) => r.attempts > 1).length).toBeGreaterThan(0); // retries happened
      server.setFaults(undefined);
      expect((await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir, env)).code).toBe(0);
      rows = predictions(dir);
      const last = new Map(rows.map((r) => [`${r.id}/${r.sample}`, r]));
      expect(last.size).toBe(60);
      expect([...last.values()].every((r) => r.status === "ok")).toBe(true);
      // An ok row is never redone: each key has at most one ok row.
      expect(rows.filter((r) => r.status === "ok").length).toBe(60);
      // The key reached the server and nothing we wrote.
      expect(server.stats.keys.get(env.BENCH_KEY)).toBeGreaterThan(0);
      for (const file of allFiles(join(dir, "runs")))
        expect(readFileSync(file, "utf8")).not.toContain(env.BENCH_KEY);
      expect(first.stderr + first.stdout).not.toContain(env.BENCH_KEY);
    } finally {
      server.setFaults(undefined);
    }
  });

  it("caches responses per sample on disk: a second experiment is served from the cache; --no-cache asks again", async () => {
    const dir = testdir({ "exp.yaml": config(model(), "samples: 2"), "data.jsonl": qaRows(6) });
    expect((await runCliAsync(["run", "exp.yaml"], dir, env)).code).toBe(0);
    const first = predictions(dir);
    expect(first.every((r) => r.cached === false)).toBe(true);
    // Different samples got different answers (the server numbers its choices).
    const q0 = first.filter((r) => r.id === "q0").sort((a, b) => a.sample - b.sample);
    expect(q0.map((r) => r.completion.split(" |")[0])).toEqual(["chat 0 seed=-", "chat 1 seed=-"]);
    const exp = join(dir, "runs/live");
    const trial = readdirSync(exp).find((d) => d.includes("__"))!;
    const summary = JSON.parse(readFileSync(join(exp, trial, "summary.json"), "utf8"));
    expect(summary.usage.completion_tokens).toBeGreaterThan(0);
    expect(summary.usage.tokens_per_s).toBeGreaterThan(0);

    const before = server.stats.requests;
    expect((await runCliAsync(["run", "exp.yaml", "--name", "again"], dir, env)).code).toBe(0);
    expect(server.stats.requests).toBe(before);
    const cached = predictions(dir, "again");
    expect(cached.every((r) => r.cached === true)).toBe(true);
    const bySample = new Map(cached.map((r) => [`${r.id}/${r.sample}`, r.completion]));
    for (const r of first) expect(bySample.get(`${r.id}/${r.sample}`)).toBe(r.completion);

    expect((await runCliAsync(["run", "exp.yaml", "--name", "fresh", "--no-cache"], dir, env)).code).toBe(0);
    expect(server.stats.requests).toBeGreaterThan(before);
    expect(predictions(dir, "fresh").every((r) => r.cached === false)).toBe(true);
  });

  it("--max-cost stops the run cleanly once predictions cost that much", async () => {
    const dir = testdir({
      "exp.yaml": config(model(", price: {input: 100000, output: 100000}"), "concurrency: 1"),
      "data.jsonl": qaRows(40),
    });
    const r = await runCliAsync(
      ["run", "exp.yaml", "--max-cost", "20", "--no-cache", "--log", "plain"],
      dir,
      env,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("--max-cost reached");
    const rows = predictions(dir);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(40);
    const spent = rows.reduce((a, p) => a + p.cost_usd, 0);
    expect(spent).toBeGreaterThanOrEqual(20);
    expect(spent - rows.at(-1).cost_usd).toBeLessThan(20);
    // What was bought is still scored and reported.
    const exp = join(dir, "runs/live");
    const trial = readdirSync(exp).find((d) => d.includes("__"))!;
    const scores = readFileSync(join(exp, trial, "scores.jsonl"), "utf8")
      .trim()
      .split("\n");
    expect(scores).toHaveLength(rows.length);
    expect(JSON.parse(readFileSync(join(exp, trial, "summary.json"), "utf8")).predictions.missing).toBe(
      40 - rows.length,
    );
  });

  it("defect 8.3: --max-cost at concurrency 8 writes and counts every answer the server sent", async () => {
    // Every request is slow enough that all 8 are in flight when the first answer spends the budget.
    server.setLatency(300);
    try {
      const dir = testdir({
        "exp.yaml": config(model(", price: {input: 100000, output: 100000}"), "concurrency: 8"),
        "data.jsonl": qaRows(40),
      });
      const answeredBefore = server.stats.ok;
      const r = await runCliAsync(
        ["run", "exp.yaml", "--max-cost", "0.5", "--no-cache", "--log", "plain"],
        dir,
        env,
      );
      const answered = server.stats.ok - answeredBefore;
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("--max-cost reached");
      const rows = predictions(dir);
      // Requests in flight when the budget ran out were answered, and none of them was dropped.
      expect(answered).toBeGreaterThan(1);
      expect(answered).toBeLessThan(40);
      expect(rows).toHaveLength(answered);
      expect(rows.every((p) => p.status === "ok")).toBe(true);
      const spent = rows.reduce((a, p) => a + p.cost_usd, 0);
      const exp = join(dir, "runs/live");
      const trial = readdirSync(exp).find((d) => d.includes("__"))!;
      const summary = JSON.parse(readFileSync(join(exp, trial, "summary.json"), "utf8"));
      expect(summary.predictions.ok).toBe(answered);
      expect(summary.usage.cost_usd).toBeCloseTo(spent, 6);
      // No new request was sent after the stop: at most the 8 in flight at that moment.
      expect(answered).toBeLessThanOrEqual(8);

      // The model allows 2 at once, so 6 requests wait in its queue: those are never sent.
      const queued = testdir({
        "exp.yaml": config(
          model(", concurrency: 2, price: {input: 100000, output: 100000}"),
          "concurrency: 8",
        ),
        "data.jsonl": qaRows(40),
      });
      const before = server.stats.requests;
      const q = await runCliAsync(
        ["run", "exp.yaml", "--max-cost", "0.5", "--no-cache", "--log", "plain"],
        queued,
        env,
      );
      expect(q.code).toBe(0);
      // At most the 2 in flight, plus the one that took the slot freed by the answer that reached
      // the cap (it is sent before that answer's cost is counted); without the stop all 8 go.
      expect(server.stats.requests - before).toBeLessThanOrEqual(3);
      expect(predictions(queued)).toHaveLength(server.stats.requests - before);
    } finally {
      server.setLatency(0);
    }
  });

  it("a timeout of 5 s or more is kept by the HTTP client itself: a hung request is a timeout row naming the limit", async () => {
    // The item asking about 1 hangs (whatever order requests arrive in).
    server.setFaults(({ body }) =>
      JSON.stringify(body).includes("What is 1 plus one?") ? "hang" : undefined,
    );
    try {
      const dir = testdir({
        "exp.yaml": config(
          model().replace("timeout: 1", "timeout: 5, max_attempts: 1").replace("max_attempts: 3, ", ""),
          "concurrency: 1",
        ),
        "data.jsonl": qaRows(3),
      });
      const started = Date.now();
      const r = await runCliAsync(["run", "exp.yaml", "--no-cache"], dir, env);
      expect(r.code, r.stderr).toBe(0);
      expect(Date.now() - started).toBeLessThan(20_000);
      const rows = predictions(dir);
      expect(rows.map((p) => p.status).sort()).toEqual(["error", "ok", "ok"]);
      expect(rows.find((p) => p.status === "error")?.error).toMatchObject({
        code: "timeout",
        message: "no response within 5000 ms",
      });
    } finally {
      server.setFaults(undefined);
    }
  }, 30_000);

  it("--timeout overrides every model's timeout", async () => {
    server.setLatency(1500);
    try {
      const dir = testdir({
        "exp.yaml": config(
          model().replace("timeout: 1", "timeout: 60, max_attempts: 1").replace("max_attempts: 3, ", ""),
        ),
        "data.jsonl": qaRows(2),
      });
      const started = Date.now();
      // Every row failed (timed out): exit 3.
      expect((await runCliAsync(["run", "exp.yaml", "--timeout", "0.3", "--no-cache"], dir, env)).code).toBe(
        3,
      );
      expect(Date.now() - started).toBeLessThan(8000);
      const rows = predictions(dir);
      expect(rows.map((r) => r.error?.code)).toEqual(["timeout", "timeout"]);
    } finally {
      server.setLatency(0);
    }
  });

  it("opens no more connections than requests in flight: an answer's connection carries the slot's next request", async () => {
    server.setLatency(20);
    try {
      const before = server.stats.connections;
      const dir = testdir({ "exp.yaml": config(model(), "concurrency: 6"), "data.jsonl": qaRows(120) });
      const r = await runCliAsync(["run", "exp.yaml", "--no-cache"], dir, env);
      expect(r.code).toBe(0);
      expect(predictions(dir).filter((p) => p.status === "ok")).toHaveLength(120);
      // Uncapped, a slot's next request often left before undici had freed the answer's
      // connection, and opened another (about 1.5 per slot at concurrency 256).
      expect(server.stats.connections - before).toBeLessThanOrEqual(6);
    } finally {
      server.setLatency(0);
    }
  });

  it("shortens prompts beyond the model's context and records it", async () => {
    const long = [{ id: "long", question: `${"background ".repeat(800)}What is 1 plus one?`, answer: "2" }];
    const dir = testdir({
      "exp.yaml": config(model(", context_length: 600, max_tokens: 100")),
      "data.jsonl": long,
    });
    expect((await runCliAsync(["run", "exp.yaml", "--no-cache"], dir, env)).code).toBe(0);
    const [row] = predictions(dir);
    expect(row.truncated).toMatchObject({ policy: "middle", original_chars: 800 * 11 + 19 });
    expect(row.truncated.kept_chars).toBeLessThanOrEqual(2000);
    // What the server was sent: the middle of the long question cut, its end kept.
    const sent = server.stats.bodies.at(-1) as { messages: { content: string }[] };
    const content = sent.messages.at(-1)!.content;
    expect(content).toContain("…[truncated]…");
    expect(content).toMatch(/What is 1 plus one\?$/);
    expect(content.length).toBe(row.truncated.kept_chars);
  });

  it("Ctrl-C aborts in-flight requests, keeps finished rows, and the same command resumes", async () => {
    server.setLatency(300);
    const dir = testdir({
      "exp.yaml": config(model().replace("timeout: 1", "timeout: 30"), "concurrency: 4"),
      "data.jsonl": qaRows(40),
    });
    try {
      const child = spawnCli(["run", "exp.yaml", "--no-cache", "--log", "plain"], dir, env);
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      // Interrupt once rows are being written (start-up time varies with the machine's load).
      for (let waited = 0; waited < 30_000 && countRows(dir) < 3; waited += 100)
        await new Promise((r) => setTimeout(r, 100));
      const sent = Date.now();
      child.kill("SIGINT");
      expect(await exited).toBe(130);
      expect(Date.now() - sent).toBeLessThan(3000); // in-flight requests were aborted, not awaited
      expect(stderr).toContain("run the same command to resume");
      const partial = predictions(dir);
      expect(partial.length).toBeGreaterThan(0);
      expect(partial.length).toBeLessThan(40);
      expect(partial.every((r) => r.status === "ok")).toBe(true);
    } finally {
      server.setLatency(0);
    }
    expect((await runCliAsync(["run", "exp.yaml", "--no-cache"], dir, env)).code).toBe(0);
    const rows = predictions(dir);
    expect(rows).toHaveLength(40);
    expect(new Set(rows.map((r) => r.id)).size).toBe(40);
  });
});

describe("defect 8.2: documented spec strings send requests to the URL they name", () => {
  it("defect 8.2: vllm:<model>@<base-url> and llamacpp-server:<base-url> reach that server with the right model", async () => {
    const dir = testdir({
      "exp.yaml": `
name: specs
task: qa
dataset: data.jsonl
models:
  - "vllm:tiny-model@${server.url}"
  - "llamacpp-server:${server.url.replace(/\/v1$/, "")}"
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
`,
      "data.jsonl": qaRows(3),
    });
    const before = server.stats.bodies.length;
    const r = await runCliAsync(["run", "exp.yaml", "--no-cache"], dir);
    expect(r.stderr).not.toContain("benchline:");
    expect(r.code).toBe(0);
    const bodies = server.stats.bodies.slice(before);
    expect(bodies).toHaveLength(6);
    // vllm: the model name without the URL; llamacpp-server: no model (the server has one).
    expect(bodies.filter((b) => b.model === "tiny-model")).toHaveLength(3);
    expect(bodies.filter((b) => b.model === undefined)).toHaveLength(3);
    const exp = join(dir, "runs/specs");
    for (const trial of readdirSync(exp).filter((d) => d.includes("__"))) {
      const rows = readFileSync(join(exp, trial, "predictions.jsonl"), "utf8")
        .trim()
        .split("\n");
      expect(rows.map((l) => JSON.parse(l).status)).toEqual(["ok", "ok", "ok"]);
    }
  });
});

describe("defect 8.6: every sample has its own reproducible seed", () => {
  it("defect 8.6: extending --samples with a seed gives new samples new seeds, and a rerun of one sample the same text", async () => {
    const seeded = (name: string) =>
      testdir({
        "exp.yaml": config(model(", seed: 100")).replace("name: live", `name: ${name}`),
        "data.jsonl": qaRows(2),
      });
    const dir = seeded("seeds");
    const before = server.stats.bodies.length;
    expect((await runCliAsync(["run", "exp.yaml", "--samples", "3", "--no-cache"], dir, env)).code).toBe(0);
    expect((await runCliAsync(["run", "exp.yaml", "--samples", "5", "--no-cache"], dir, env)).code).toBe(0);
    const rows = predictions(dir, "seeds");
    expect(rows).toHaveLength(10); // 3 then 2 more per item, nothing redone
    for (const id of ["q0", "q1"]) {
      const texts = rows
        .filter((r) => r.id === id)
        .sort((a, b) => a.sample - b.sample)
        .map((r) => r.completion.split(" |")[0]);
      // The server answers from its seed: sample i was asked with seed 100 + i, alone.
      expect(texts).toEqual([0, 1, 2, 3, 4].map((i) => `chat 0 seed=${100 + i}`));
    }
    // One request per sample when a seed is set (n is never sent).
    const bodies = server.stats.bodies.slice(before);
    expect(bodies).toHaveLength(10);
    expect(bodies.every((b) => b.n === undefined)).toBe(true);
    // Re-running just sample 3 from scratch gives the same text.
    const again = seeded("again");
    expect((await runCliAsync(["run", "exp.yaml", "--samples", "5", "--no-cache"], again, env)).code).toBe(0);
    const byKey = (rs: { id: string; sample: number; completion: string }[]) =>
      new Map(rs.map((r) => [`${r.id}/${r.sample}`, r.completion]));
    expect(byKey(predictions(again, "again"))).toEqual(byKey(rows));
  });
});

describe("failing fast: an unusable server stops the run within seconds, naming the URL and the cause", () => {
  const failFast = async (modelEntry: string, extraEnv: NodeJS.ProcessEnv = {}, items = 40) => {
    const dir = testdir({ "exp.yaml": config(modelEntry), "data.jsonl": qaRows(items) });
    const started = Date.now();
    const r = await runCliAsync(["run", "exp.yaml", "--no-cache", "--log", "plain"], dir, {
      ...env,
      ...extraEnv,
    });
    return { ...r, seconds: (Date.now() - started) / 1000, dir };
  };

  it("a closed port: connection refused, exit 2, well before 40 rows x 5 attempts", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/v1`;
    const r = await failFast(`{id: down, provider: vllm, model: tiny, base_url: "${url}"}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`connection refused to ${url} — is the server running? set base_url`);
    expect(r.seconds).toBeLessThan(15); // it took 42 s before; the request itself fails in ms
    // What was sent is recorded as errors with the cause; the rest is left for the rerun.
    const rows = predictions(r.dir);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThanOrEqual(8); // at most what was in flight
    for (const row of rows)
      expect(row.error).toMatchObject({ code: "connection_refused", message: expect.stringContaining(url) });
  });

  it("a host that does not resolve: DNS error naming the host, exit 2, in seconds", async () => {
    const r = await failFast(
      `{id: nohost, provider: vllm, model: tiny, base_url: "http://benchline-no-such-host.invalid:8000/v1"}`,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "host benchline-no-such-host.invalid not found (http://benchline-no-such-host.invalid:8000/v1)",
    );
    expect(r.seconds).toBeLessThan(15);
  });

  it("a rejected key (401): auth error with the URL, exit 2, not retried", async () => {
    server.setFaults(() => ({ status: 401, body: '{"error": "invalid api key"}' }));
    try {
      const before = server.stats.requests;
      const r = await failFast(model(), {}, 40);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`HTTP 401 from ${server.url}/chat/completions`);
      expect(r.stderr).toContain("check the API key");
      expect(r.stderr).not.toContain(env.BENCH_KEY);
      expect(server.stats.requests - before).toBeLessThanOrEqual(8);
      expect(r.seconds).toBeLessThan(15);
    } finally {
      server.setFaults(undefined);
    }
  });

  it("HTTPS with a self-signed certificate: TLS error in seconds; trusted through NODE_EXTRA_CA_CERTS, tls.ca or tls.insecure", async () => {
    const https = await startOpenAIServer({ tls: true });
    try {
      const entry = (extra = "") =>
        `{id: secure, provider: vllm, model: tiny, base_url: "${https.url}"${extra}}`;
      const bad = await failFast(entry(), {}, 20);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(`TLS failure to ${https.url}`);
      expect(bad.stderr).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
      expect(bad.seconds).toBeLessThan(15);
      expect(https.stats.requests).toBe(0);

      for (const [extra, extraEnv] of [
        ["", { NODE_EXTRA_CA_CERTS: TEST_CERT }],
        [`, tls: {ca: "${TEST_CERT}"}`, {}],
        [", tls: {insecure: true}", {}],
      ] as const) {
        const ok = await failFast(entry(extra), extraEnv, 3);
        expect(ok.stderr).not.toContain("benchline:");
        expect(ok.code).toBe(0);
        expect(predictions(ok.dir).map((p) => p.status)).toEqual(["ok", "ok", "ok"]);
      }
      expect(https.stats.ok).toBe(9);

      const missing = await failFast(entry(', tls: {ca: "nope.pem"}'), {}, 1);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain("tls.ca: cannot read");
    } finally {
      await https.close();
    }
  });
});

describe("HTTP(S)_PROXY through the CLI", () => {
  it("requests go through HTTP_PROXY, and straight to the server when NO_PROXY names it", async () => {
    const tunnels: string[] = [];
    const proxy = http.createServer((_req, res) => res.writeHead(405).end());
    const sockets = new Set<net.Socket>();
    proxy.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      tunnels.push(req.url ?? "");
      const [host, port] = (req.url ?? "").split(":");
      const upstream = net.connect(Number(port), host, () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("error", () => undefined);
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    try {
      const dir = testdir({ "exp.yaml": config(model()), "data.jsonl": qaRows(3) });
      const proxied = await runCliAsync(["run", "exp.yaml", "--no-cache"], dir, {
        ...env,
        HTTP_PROXY: proxyUrl,
        http_proxy: proxyUrl, // undici reads the lower-case names first
        NO_PROXY: "",
        no_proxy: "",
      });
      expect(proxied.code).toBe(0);
      expect(tunnels.length).toBeGreaterThan(0);
      expect(new Set(tunnels)).toEqual(new Set([new URL(server.url).host]));
      const count = tunnels.length;
      const direct = await runCliAsync(["run", "exp.yaml", "--no-cache", "--name", "direct"], dir, {
        ...env,
        HTTP_PROXY: proxyUrl,
        http_proxy: proxyUrl,
        NO_PROXY: "127.0.0.1",
        no_proxy: "127.0.0.1",
      });
      expect(direct.code).toBe(0);
      expect(tunnels).toHaveLength(count);
      expect(predictions(dir, "direct").every((p) => p.status === "ok")).toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

describe("retries are events", () => {
  it("--log json shows each retry with its attempt, wait and error code", async () => {
    const dir = testdir({ "exp.yaml": config(model()), "data.jsonl": qaRows(2) });
    server.setFaults(({ body }) =>
      JSON.stringify(body).includes("What is 0 plus one") && server.stats.faults["503"] === undefined
        ? "503"
        : undefined,
    );
    try {
      const r = await runCliAsync(["run", "exp.yaml", "--no-cache", "--log", "json"], dir, env);
      expect(r.code).toBe(0);
      const events = r.stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l));
      const retries = events.filter((e) => e.type === "retry");
      expect(retries).toEqual([
        expect.objectContaining({
          type: "retry",
          phase: "inference",
          id: "q0",
          samples: [0],
          attempt: 1,
          code: "http_503",
          wait_ms: expect.any(Number),
          message: expect.stringContaining("HTTP 503"),
        }),
      ]);
      expect(predictions(dir).find((p) => p.id === "q0")).toMatchObject({ status: "ok", attempts: 2 });
    } finally {
      server.setFaults(undefined);
    }
  });
});

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe("samples read in step with the prompts (issue 15)", () => {
  it("a prompts file in another order than the dataset (an --ids run, then all) still pairs each prompt with its own sample", async () => {
    const dir = testdir({
      "exp.yaml": config("gold", "samples: 2\n"),
      "data.jsonl": qaRows(8),
      "ids.txt": "q6\nq2\nq5\n",
    });
    const first = await runCliAsync(["run", "exp.yaml", "--ids", "ids.txt"], dir);
    expect(first.code, first.stderr).toBe(0);
    const all = await runCliAsync(["run", "exp.yaml"], dir);
    expect(all.code, all.stderr).toBe(0);
    const rows = predictions(dir);
    // Gold answers with the sample's own reference: a prompt paired with another sample would show.
    expect(rows).toHaveLength(16);
    for (const row of rows) expect(row.completion).toBe(String(Number(row.id.slice(1)) + 1));
    expect(new Set(rows.map((r) => `${r.id}/${r.sample}`)).size).toBe(16);
  });
});
