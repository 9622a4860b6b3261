/**
 * Builds dist/ (what `npx benchline` runs; `npm install` runs this as `prepare`): esbuild bundles
 * the CLI into ES-module chunks under dist/cli/ with code splitting, so a command loads one entry
 * chunk plus the chunks its action imports, instead of hundreds of files (issue 15: start-up;
 * BENCHMARKS.md, CLI start-up). Types are checked by `npm run typecheck`, not here.
 *
 * `benchline run` loads most of the program before its first request, so it runs instead from
 * dist/cli/run.cjs, the whole CLI as one CommonJS script, compiled with a V8 code cache
 * (dist/cli/run.cjs.cache) that this build writes by running the CLI once against a loopback
 * server (src/cli/run-loader.ts says how it is used and when V8 rejects it).
 *
 *   npx tsx scripts/build.ts
 *
 * Bundled: the small pure-JavaScript packages the start-up path loads (zod, yaml, commander, ...).
 * Left to node_modules: packages loaded only by some commands (and loaded lazily there), those
 * with native binaries, WebAssembly or files read beside their code, and undici (the HTTP client
 * loads its Agent module by path, `providers/http.ts`).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type BuildOptions, build, type Plugin } from "esbuild";
import { startOpenAIServer } from "../src/providers/test-utils/openai-server.js";

const root = resolve(import.meta.dirname, "..");
const BUNDLED = new Set([
  "zod",
  "yaml",
  "commander",
  "lossless-json",
  "shlex",
  "picomatch",
  "fastest-levenshtein",
]);

const plugins: Plugin[] = [
  {
    // undici's Agent (the HTTP client of every OpenAI-compatible model) is 30 modules that node
    // would read and compile from node_modules before the first request (≈30 ms). Bundled, they
    // are compiled with the rest of `run` (and its code cache): providers/http.ts loads the Agent
    // with node's require on first use, made here a require() that esbuild bundles (still run on
    // first use). The whole of undici (proxies, batches) still loads from node_modules.
    // Its HTTP/2 client loads node:http2 (and with it node:tls, ≈10 ms) when
    // undici loads, though it runs only on a TLS connection that chose h2 (`allowH2`, which
    // benchline never sets): in the bundle it loads on such a connection only.
    name: "undici-agent-bundled",
    setup(b) {
      const patch = (path: string, from: string, to: string, loader: "ts" | "js") => {
        const source = readFileSync(path, "utf8");
        if (!source.includes(from)) throw new Error(`${path}: no \`${from}\` to change`);
        return { contents: source.replace(from, to), loader };
      };
      b.onLoad({ filter: /[\\/]src[\\/]providers[\\/]http\.ts$/ }, (args) =>
        patch(
          args.path,
          'requireUndici("undici/lib/dispatcher/agent.js")',
          'require("undici/lib/dispatcher/agent.js")',
          "ts",
        ),
      );
      b.onLoad({ filter: /[\\/]node_modules[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/ }, (args) =>
        patch(
          args.path,
          "const connectH2 = require('./client-h2.js')",
          "const connectH2 = (client, socket) => require('./client-h2.js')(client, socket)",
          "js",
        ),
      );
    },
  },
  {
    // `import { z } from "zod"` binds zod's namespace object as a value, so esbuild keeps every
    // export of it: all 40 locales, JSON Schema conversion and more (750 kB of the 1.9 MB the
    // run path parsed). `import * as z` (zod 4's documented form, the same object) lets it keep
    // only the members used (190 kB). Rewritten here, in the bundle's input, for every source.
    name: "zod-namespace",
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => ({
        contents: readFileSync(args.path, "utf8").replace(
          /^import \{ z \} from "zod";$/gm,
          'import * as z from "zod";',
        ),
        loader: "ts",
      }));
    },
  },
  {
    // commander loads node:child_process (≈10 ms of start-up with node:dgram and node:net under
    // it) for executable subcommands, which benchline has none of: load it if ever called.
    name: "commander-lazy-child-process",
    setup(b) {
      b.onLoad({ filter: /[\\/]node_modules[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
        const line = "const childProcess = require('node:child_process');";
        const source = readFileSync(args.path, "utf8");
        if (!source.includes(line)) throw new Error(`${args.path}: no \`${line}\` to make lazy`);
        return {
          contents: source.replace(
            line,
            "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };",
          ),
          loader: "js",
        };
      });
    },
  },
  {
    name: "external-packages",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith("node:")) return { external: true };
        if (args.path.startsWith("undici/lib/")) return undefined;
        const parts = args.path.split("/");
        const name = args.path.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
        return BUNDLED.has(name) ? undefined : { external: true };
      });
    },
  },
];

const out = join(root, "dist");
rmSync(out, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  // The viewer's index builds run in a worker thread, which loads its module by path
  // (`viewer/worker-jobs.ts` looks for index-worker.js beside itself, i.e. in dist/cli/).
  // run-loader: what bin/benchline.js loads for `run` (below).
  entryPoints: {
    bin: "src/cli/bin.ts",
    "index-worker": "src/viewer/index-worker.ts",
    "run-loader": "src/cli/run-loader.ts",
  },
  // Every chunk sits beside the entry in dist/cli/: modules find package.json at ../../.
  outdir: join(out, "cli"),
  chunkNames: "[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: {
    js: 'import { createRequire as __benchlineCreateRequire } from "node:module";\nconst require = __benchlineCreateRequire(import.meta.url);',
  },
  plugins,
});
// Which source module landed in which chunk (test/startup.test.ts reads it).
writeFileSync(join(out, "meta.json"), JSON.stringify(result.metafile));

// `benchline run`: the whole CLI as one CommonJS script (src/cli/run-loader.ts runs it in a
// function wrapper with require, module, __filename and __dirname); `import.meta.url` is the
// script's own URL, as it is for a chunk beside it.
await build({
  absWorkingDir: root,
  entryPoints: ["src/cli/main.ts"],
  outfile: join(out, "cli", "run.cjs"),
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  define: { "import.meta.url": "__benchlineImportMetaUrl" },
  banner: { js: 'var __benchlineImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  plugins,
} satisfies BuildOptions);
// The script's `import()`s of packages left in node_modules (node-llama-cpp, the hub client, ...):
// a script run through node:vm can only import() with an experimental option that prints a
// warning, so they call the loader's import() instead, passed in as `__benchlineImport`.
const script = join(out, "cli", "run.cjs");
//
// ASCII only: esbuild escapes non-ASCII characters in strings, templates and regular expressions,
// but the comments it keeps may have some, and one such character makes V8 hold the whole 2 MB
// script as a two-byte string (read and decoded as UTF-8 in 17-25 ms here; src/cli/run-loader.ts
// reads it as latin1 instead). Escaped as `\uXXXX` like esbuild's own (valid in a comment,
// string, regular expression or identifier alike).
const source = readFileSync(script, "utf8")
  .replace(/\bimport\("/g, '__benchlineImport("')
  .replace(/[^\0-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
// (JSDoc of bundled packages names types as `import('...')`: comment lines are not code.)
if (source.split("\n").some((line) => /\bimport\(/.test(line) && !/^\s*(\*|\/\/|\/\*)/.test(line)))
  throw new Error(`${script}: an import() of something other than a string literal`);
writeFileSync(script, source);
await writeCodeCache();

/**
 * Runs `benchline run` once from run.cjs against a loopback OpenAI-compatible server, and writes
 * the V8 code cache of every function it compiled (dist/cli/run.cjs.cache). Without V8 flags
 * (NODE_OPTIONS unset), as `benchline` normally runs; with others V8 rejects the cache.
 */
async function writeCodeCache(): Promise<void> {
  const server = await startOpenAIServer({ trackPrompts: false });
  const dir = mkdtempSync(join(tmpdir(), "benchline-build-"));
  try {
    const rows = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ id: `q${i}`, question: `What is ${i} plus one?`, answer: String(i + 1) }),
    );
    writeFileSync(join(dir, "data.jsonl"), `${rows.join("\n")}\n`);
    writeFileSync(
      join(dir, "exp.yaml"),
      `name: build\ntask: qa\ndataset: data.jsonl\nmodels:\n  - {id: local, provider: vllm, model: tiny, base_url: "${server.url}"}\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\n`,
    );
    const loader = join(out, "cli", "run-loader.js");
    const { NODE_OPTIONS: _, ...env } = process.env;
    // Asynchronous: the server answers from this process.
    const child = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const { runCached } = await import(${JSON.stringify(pathToFileURL(loader).href)});
process.exitCode = await runCached([process.argv0, "benchline", "run", "exp.yaml", "--log", "plain"], { writeCache: true });`,
      ],
      { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const status = await new Promise<number | null>((r) => child.on("exit", r));
    if (status !== 0 || !existsSync(join(out, "cli", "run.cjs.cache")))
      process.stderr.write(
        `warning: no code cache for \`benchline run\` (it starts ≈0.1 s slower): the build's run exited ${status}\n${stderr}`,
      );
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
