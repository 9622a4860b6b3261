import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type OpenAIServer,
  startOpenAIServer,
  TEST_CERT,
} from "../src/providers/test-utils/openai-server.js";
import { hubEnv, startHubServer } from "../src/sources/test-utils/hub-server.js";
import { qaRows, ROOT, testdir } from "./helpers.js";

/**
 * Issue 15 (start-up): a command loads what it needs when it runs. Which modules a CLI process
 * loads is seen through a module hook that prints every URL it resolves (ES modules; undici is
 * CommonJS and checked through the providers that load it).
 */
const TSX_LOADER = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
const HOOK = `data:text/javascript,${encodeURIComponent(
  'export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write("LOADED " + r.url + "\\n"); return r; }',
)}`;

/** Modules `--help` must not load: schemas, YAML, providers, tasks, sandboxes, the pipeline. */
const HEAVY =
  /\/node_modules\/(zod|yaml|lossless-json)\/|\/src\/(providers|tasks|sandbox|scoring|report|config)\/|\/src\/pipeline\/(run|resolve|index)\.ts/;

function loaded(
  args: string[],
  entry = ["--import", TSX_LOADER, join(ROOT, "src", "cli", "bin.ts")],
): string[] {
  const r = spawnSync(process.execPath, ["--no-warnings", "--experimental-loader", HOOK, ...entry, ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stderr
    .split("\n")
    .filter((l) => l.startsWith("LOADED "))
    .map((l) => l.slice(7));
}

describe("start-up (issue 15)", () => {
  it.each(["--help", "run --help", "import --help", "convert --help", "--version"])(
    "issue 15: `benchline %s` loads no schemas, providers, tasks, sandboxes or pipeline",
    (command) => {
      const urls = loaded(command.split(" "));
      expect(urls.some((u) => u.includes("/src/cli/main.ts"))).toBe(true);
      const heavy = urls.filter((u) => !u.endsWith("/src/sandbox/kinds.ts") && HEAVY.test(u));
      expect(heavy).toEqual([]);
    },
  );
});

/**
 * The build (`npm install` runs `scripts/build.ts`): esbuild chunks under dist/cli/, run as a user
 * runs them (`node bin/benchline.js`). dist/meta.json says which sources each chunk holds.
 */
describe("the built CLI (issue 15)", () => {
  const meta = join(ROOT, "dist", "meta.json");
  let server: OpenAIServer;
  beforeAll(async () => {
    if (!existsSync(meta)) throw new Error("dist/ is missing: run `npm run build` (npm install does) first");
    server = await startOpenAIServer();
  });
  afterAll(() => server?.close());

  it.each(["--help", "run --help"])(
    "issue 15: the built `benchline %s` loads no chunk holding heavy modules",
    (command) => {
      const { outputs } = JSON.parse(readFileSync(meta, "utf8")) as {
        outputs: Record<string, { inputs: Record<string, unknown> }>;
      };
      const chunks = loaded(command.split(" "), [join(ROOT, "bin", "benchline.js")])
        .filter((u) => u.includes("/dist/cli/"))
        .map((u) => `dist/cli/${u.slice(u.lastIndexOf("/") + 1)}`);
      expect(chunks).toContain("dist/cli/bin.js");
      const heavy = chunks.flatMap((chunk) =>
        Object.keys(outputs[chunk]?.inputs ?? {})
          .filter((input) => input !== "src/sandbox/kinds.ts" && HEAVY.test(`/${input}`))
          .map((input) => `${chunk}: ${input}`),
      );
      expect(heavy).toEqual([]);
    },
  );

  it("issue 15: the built `benchline --help` loads no node:child_process (commander's is loaded only if called)", () => {
    const exitHook = `data:text/javascript,${encodeURIComponent(
      'process.on("exit", () => process.stderr.write("BUILTINS " + process.moduleLoadList.join(",") + "\\n"));',
    )}`;
    const r = spawnSync(
      process.execPath,
      ["--import", exitHook, join(ROOT, "bin", "benchline.js"), "--help"],
      {
        encoding: "utf8",
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const builtins = /BUILTINS (.*)/.exec(r.stderr)?.[1]?.split(",") ?? [];
    expect(builtins).toContain("NativeModule fs");
    expect(builtins.filter((m) => /^NativeModule (child_process|dgram|zlib|http2?|tls)$/.test(m))).toEqual(
      [],
    );
  });

  it("issue 15: the bundle holds zod's English messages only, not its 40 locales (750 kB parsed by every run)", () => {
    // scripts/build.ts rewrites `import { z } from "zod"` to `import * as z`, so esbuild keeps the
    // members used; one import that binds the namespace as a value brings every locale back.
    const { outputs } = JSON.parse(readFileSync(meta, "utf8")) as {
      outputs: Record<string, { bytes: number; inputs: Record<string, unknown> }>;
    };
    const inputs = Object.values(outputs).flatMap((o) => Object.keys(o.inputs));
    expect(inputs).toContain("node_modules/zod/v4/locales/en.js");
    expect(
      inputs.filter((i) => i.startsWith("node_modules/zod/v4/locales/") && !i.endsWith("/en.js")),
    ).toEqual([]);
    const zodChunk = Object.entries(outputs).find(
      ([, o]) => "node_modules/zod/v4/core/schemas.js" in o.inputs,
    );
    expect(zodChunk?.[1].bytes).toBeLessThan(400_000);
  });

  it("issue 13/15: the built viewer worker (dist/cli/index-worker.js, loaded by path) runs a search job in a thread", async () => {
    // The viewer's index builds and searches run in a worker thread loaded by path from beside the
    // chunk that starts it; a bundle without this entry falls back to the main thread silently.
    const { Worker } = await import("node:worker_threads");
    const dir = testdir({ "rows.jsonl": '{"a":"no"}\n{"a":"needle-xyz"}\n{"a":"no"}\n' });
    const file = join(dir, "rows.jsonl");
    const worker = new Worker(join(ROOT, "dist", "cli", "index-worker.js"), {
      workerData: {
        benchlineViewerJob: {
          type: "search",
          files: [{ path: file, size: readFileSync(file).length }],
          needles: ["needle-xyz"],
          cap: 10,
        },
      },
    });
    const messages: { type: string; found?: number }[] = [];
    await new Promise<void>((resolve, reject) => {
      worker.on("message", (m: { type: string; found?: number }) => {
        messages.push(m);
        if (m.type === "searched" || m.type === "failed") resolve();
      });
      worker.on("error", reject);
    });
    await worker.terminate();
    expect(messages.map((m) => m.type)).toEqual(["hits", "searched"]);
    expect(messages.at(-1)?.found).toBe(1);
  });

  it("issue 15: the built CLI runs an experiment against a loopback server and writes its reports", async () => {
    const dir = testdir({
      "data.jsonl": qaRows(12),
      "exp.yaml": `name: built\ntask: qa\ndataset: data.jsonl\nmodels:\n  - {id: local, provider: vllm, model: tiny, base_url: "${server.url}"}\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\n`,
    });
    const version = spawnSync(process.execPath, [join(ROOT, "bin", "benchline.js"), "--version"], {
      encoding: "utf8",
    });
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version);
    // Asynchronous: the loopback server answers from this process.
    const child = spawn(
      process.execPath,
      [join(ROOT, "bin", "benchline.js"), "run", "exp.yaml", "--log", "plain"],
      {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, BENCHLINE_DEBUG: "1" },
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    expect(code, stderr).toBe(0);
    // `run` ran from dist/cli/run.cjs with the code cache the build wrote beside it.
    expect(stderr).toMatch(/^benchline: code cache used \(.*dist\/cli\/run\.cjs\.cache\)$/m);
    const trial = join(dir, "runs", "built");
    const predictions = spawnSync("sh", ["-c", "cat */predictions.jsonl"], { cwd: trial, encoding: "utf8" })
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { status: string; completion: string });
    expect(predictions).toHaveLength(12);
    expect(predictions.every((p) => p.status === "ok" && p.completion.length > 0)).toBe(true);
    expect(server.stats.ok).toBeGreaterThanOrEqual(12);
    expect(existsSync(join(trial, "report.html"))).toBe(true);
  });

  /** `benchline run` from the build, awaited while the loopback server answers from this process. */
  async function runBuilt(
    dir: string,
    nodeArgs: string[] = [],
    bin = join(ROOT, "bin", "benchline.js"),
    args: string[] = [],
  ): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [...nodeArgs, bin, "run", "exp.yaml", "--log", "plain", ...args], {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, BENCHLINE_DEBUG: "1" },
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    return { code, stderr };
  }
  const experiment = (url: string) =>
    `name: built\ntask: qa\ndataset: data.jsonl\nmodels:\n  - {id: local, provider: vllm, model: tiny, base_url: "${url}"}\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\n`;
  const predictionsIn = (dir: string) =>
    spawnSync("sh", ["-c", "cat runs/built/*/predictions.jsonl"], { cwd: dir, encoding: "utf8" })
      .stdout.trim()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { status: string });

  it("issue 15: with V8 flags other than the build's, V8 rejects the code cache and `run` compiles the script and runs the same", async () => {
    const dir = testdir({ "data.jsonl": qaRows(5), "exp.yaml": experiment(server.url) });
    const { code, stderr } = await runBuilt(dir, ["--stack-size=900"]);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/^benchline: code cache rejected \(another node or other V8 flags\): compiling/m);
    expect(predictionsIn(dir).map((p) => p.status)).toEqual(["ok", "ok", "ok", "ok", "ok"]);
  });

  it("issue 15: the built `run` of an OpenAI-compatible model loads no child_process, readline, tls, zlib or http2, no file of node_modules (undici is bundled), and no node module after its V8 flag before the first request", async () => {
    // What a plain-HTTP run never uses loads on first use only (src/core/builtins.ts; undici's
    // HTTP/2 client in scripts/build.ts); undici's Agent is compiled with the script and its cache.
    const dir = testdir({
      "data.jsonl": qaRows(6),
      "exp.yaml": experiment(server.url),
      // Also: node's modules loaded between the V8 flag (which makes V8 reject node's own code
      // cache) and the first request, i.e. compiled from source before it (run-loader.ts).
      "exit-hook.cjs": `const builtins = () => process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice(13));
const v8 = require("node:v8");
const setFlags = v8.setFlagsFromString;
let atFlag;
v8.setFlagsFromString = (flags) => { atFlag ??= new Set(builtins()); return setFlags(flags); };
let afterFlag;
require("node:diagnostics_channel").subscribe("undici:client:sendHeaders", () => {
  afterFlag ??= builtins().filter((m) => !atFlag.has(m));
});
process.on("exit", () => {
  process.stderr.write("BUILTINS " + builtins().join(",") + "\\nFILES " + Object.keys(require.cache).join(",") + "\\nAFTER_FLAG " + JSON.stringify(afterFlag) + "\\n");
});
`,
    });
    const { code, stderr } = await runBuilt(dir, ["--require", join(dir, "exit-hook.cjs")]);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/^benchline: code cache used/m);
    expect(predictionsIn(dir).map((p) => p.status)).toEqual(["ok", "ok", "ok", "ok", "ok", "ok"]);
    const builtins = /^BUILTINS (.*)$/m.exec(stderr)?.[1]?.split(",") ?? [];
    expect(builtins).toContain("net");
    expect(builtins).toContain("crypto");
    expect(
      builtins.filter((m) =>
        /^(child_process|dgram|readline|tls|_tls_wrap|zlib|http2|internal\/http2\/.*)$/.test(m),
      ),
    ).toEqual([]);
    const files = /^FILES (.*)$/m.exec(stderr)?.[1]?.split(",") ?? [];
    expect(files.filter((f) => f.includes("/node_modules/"))).toEqual([]);
    expect(JSON.parse(/^AFTER_FLAG (.*)$/m.exec(stderr)?.[1] ?? "null")).toEqual([]);
  });

  it("issue 15: the built `run` reaches an HTTPS model through the bundled undici: refused without trust, then trusted through tls.ca", async () => {
    // The bundled Agent loads node:tls on a TLS connection only; tls.ca is read through core/builtins.ts.
    const https = await startOpenAIServer({ tls: true });
    try {
      const secure = (extra: string) => experiment(https.url).replace("base_url: ", `${extra}base_url: `);
      const refused = testdir({ "data.jsonl": qaRows(3), "exp.yaml": secure("") });
      const bad = await runBuilt(refused);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(`TLS failure to ${https.url}`);
      const trusted = testdir({ "data.jsonl": qaRows(3), "exp.yaml": secure(`tls: {ca: "${TEST_CERT}"}, `) });
      const ok = await runBuilt(trusted);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stderr).toMatch(/^benchline: code cache used/m);
      expect(predictionsIn(trusted).map((p) => p.status)).toEqual(["ok", "ok", "ok"]);
      expect(https.stats.ok).toBe(3);
    } finally {
      await https.close();
    }
  });

  it("issue 15: a fresh run's first request leaves before the requests of the next prompts are dispatched, and every prompt still gets its prediction", async () => {
    // run.ts gives the event loop a turn after the first prompt (and every 64th): before, all the
    // prompts of the dataset's first read were built and their requests dispatched, each opening
    // a connection, before the first was sent. Seen in the CLI through undici's channels: the
    // connections begun when the first request's headers were sent, against all it began.
    const dir = testdir({
      "data.jsonl": qaRows(200),
      "exp.yaml": experiment(server.url).replace("scorers:", "concurrency: 256\nscorers:"),
      "send-hook.cjs": `const channels = require("node:diagnostics_channel");
let connects = 0;
let atFirst;
channels.subscribe("undici:client:beforeConnect", () => connects++);
channels.subscribe("undici:client:sendHeaders", () => { atFirst ??= connects; });
process.on("exit", () => process.stderr.write("CONNECTS " + atFirst + " " + connects + "\\n"));
`,
    });
    // Without the response cache, whose look-up before each request takes turns of its own.
    const { code, stderr } = await runBuilt(dir, ["--require", join(dir, "send-hook.cjs")], undefined, [
      "--no-cache",
    ]);
    expect(code, stderr).toBe(0);
    const statuses = predictionsIn(dir).map((p) => p.status);
    expect(statuses).toHaveLength(200);
    expect(statuses.every((status) => status === "ok")).toBe(true);
    const trial = readdirSync(join(dir, "runs", "built")).find((d) => d.includes("__"))!;
    const prompts = readFileSync(join(dir, "runs", "built", trial, "prompts.jsonl"), "utf8");
    expect(prompts.trim().split("\n")).toHaveLength(200);
    const [, atFirst, all] = /^CONNECTS (\d+) (\d+)$/m.exec(stderr) ?? [];
    expect(Number(all)).toBeGreaterThan(40);
    expect(Number(atFirst)).toBeLessThanOrEqual(2);
  });

  it("issue 15: dist/cli/run.cjs is ASCII only (the loader reads it as latin1; one other character would make V8 hold the whole script as two-byte text)", () => {
    const script = readFileSync(join(ROOT, "dist", "cli", "run.cjs"));
    expect(script.length).toBeGreaterThan(1_000_000);
    expect(script.findIndex((byte) => byte > 0x7f)).toBe(-1);
  });

  it("issue 15: a damaged code cache is rejected, not run: `run` compiles the script and runs the same", async () => {
    // A copy of the package (bin/, dist/, package.json; node_modules linked) with a damaged cache.
    const pkg = testdir({ "package.json": readFileSync(join(ROOT, "package.json"), "utf8") });
    cpSync(join(ROOT, "bin"), join(pkg, "bin"), { recursive: true });
    cpSync(join(ROOT, "dist"), join(pkg, "dist"), { recursive: true });
    const real = readFileSync(join(ROOT, "dist", "cli", "run.cjs.cache"));
    writeFileSync(
      join(pkg, "dist", "cli", "run.cjs.cache"),
      Buffer.from(real.map((b, i) => (i % 7 === 3 ? b ^ 0x5a : b))),
    );
    symlinkSync(join(ROOT, "node_modules"), join(pkg, "node_modules"));
    const dir = testdir({ "data.jsonl": qaRows(5), "exp.yaml": experiment(server.url) });
    const { code, stderr } = await runBuilt(dir, [], join(pkg, "bin", "benchline.js"));
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/^benchline: code cache rejected/m);
    expect(predictionsIn(dir)).toHaveLength(5);
  });

  it("issue 15: a bad experiment file still fails through the built `run` before any request", async () => {
    const dir = testdir({
      "data.jsonl": qaRows(5),
      "exp.yaml": experiment(server.url).replace("model: tiny,", "model: tiny, temperature: hot,"),
    });
    const before = server.stats.requests;
    const { code, stderr } = await runBuilt(dir);
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /^benchline: exp\.yaml: models\[0\]\.temperature: expected number, received string$/m,
    );
    expect(server.stats.requests).toBe(before);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("issue 15: the built `run` imports packages left in node_modules (hub client, csv-parse) with no warning", async () => {
    // run.cjs's import()s go through the loader's import(), not node:vm's experimental option.
    const hub = await startHubServer();
    try {
      hub.push("datasets", "acme/qa-csv", {
        "data/test.csv": "id,question,answer\na,What is 1 plus one?,2\nb,What is 2 plus one?,3\n",
      });
      const dir = testdir({
        "exp.yaml": "name: built\ntask: qa\ndataset: hf:acme/qa-csv\nmodels: [gold]\nscorers: [exact]\n",
      });
      const child = spawn(
        process.execPath,
        [join(ROOT, "bin", "benchline.js"), "run", "exp.yaml", "--log", "plain"],
        {
          cwd: dir,
          stdio: ["ignore", "ignore", "pipe"],
          env: { ...process.env, ...hubEnv(hub.url, dir), BENCHLINE_DEBUG: "1" },
        },
      );
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const code = await new Promise<number | null>((r) => child.on("exit", r));
      expect(code, stderr).toBe(0);
      expect(stderr).toMatch(/^benchline: code cache used/m);
      expect(stderr).not.toMatch(/Warning/);
      const statuses = predictionsIn(dir).map((p) => p.status);
      expect(statuses.length).toBeGreaterThanOrEqual(2);
      expect(statuses.every((status) => status === "ok")).toBe(true);
    } finally {
      await hub.close();
    }
  });
});
