/**
 * `benchline run` from one CommonJS script, compiled with a V8 code cache (issue 15: start-up;
 * BENCHMARKS.md, CLI start-up). Built as dist/cli/run-loader.js; bin/benchline.js loads it for
 * `run` (not for `run --help`), every other command takes the ES-module chunks.
 *
 * A run loads most of the program before its first request. Compiling it is most of what a
 * code cache saves: V8 deserialises the functions a run needs instead of parsing and compiling
 * them. dist/cli/run.cjs is the whole CLI in one script (`scripts/build.ts`), and
 * dist/cli/run.cjs.cache its code cache, written at build time by a run of the CLI against a
 * loopback server. Nothing writes a cache at run time, so none is trusted but the build's
 * own output beside the script, as trusted as the script itself. V8 rejects a cache made by
 * another V8 version or with other V8 flags (or whose header is damaged) and compiles the script
 * as if there were none: the same program, slower to start (`BENCHLINE_DEBUG=1` says which).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { setV8Flags } from "./v8-flags.js";

type Main = (argv: string[]) => Promise<number>;

const SCRIPT = fileURLToPath(new URL("./run.cjs", import.meta.url));
const CACHE = `${SCRIPT}.cache`;

/**
 * node's modules that a run loads before its first request anyway: hashes (crypto), the lock's
 * host name (os), streams of JSONL files, and what undici's HTTP client loads (net, http, assert,
 * diagnostics_channel, perf_hooks behind the `performance` global).
 */
const RUN_BUILTINS = [
  "node:crypto",
  "node:os",
  "node:fs/promises",
  "node:stream",
  "node:stream/promises",
  "node:string_decoder",
  "node:net",
  "node:http",
  "node:assert",
  "node:diagnostics_channel",
  "node:perf_hooks",
  "node:process",
];
const requireBuiltin = createRequire(import.meta.url);

/** Whether dist/ has the script (a build from before it had none). */
export const available = (): boolean => existsSync(SCRIPT);

/**
 * Runs the CLI (`main` of src/cli/main.ts) from dist/cli/run.cjs with its code cache.
 * `writeCache` (the build only): at exit, write the code cache of every function compiled by then.
 */
export async function runCached(argv: string[], options: { writeCache?: boolean } = {}): Promise<number> {
  // node's own modules are compiled from node's code cache, which V8 rejects once a V8 flag is
  // set (its flag hash changed): each module loaded after setV8Flags is parsed and compiled from
  // its source. The ones a run loads before its first request are loaded first (≈10 % of the
  // CPU of `run` before its first request otherwise; the rest load on use, as before).
  for (const name of RUN_BUILTINS) requireBuiltin(name);
  // Before anything is compiled: the V8 flags a cache was made with must be those it is used
  // with, so the build's run sets them at the same point.
  setV8Flags();
  const cachedData = !options.writeCache && existsSync(CACHE) ? readFileSync(CACHE) : undefined;
  // The build writes the script in ASCII only: read as latin1 (the same text), it is a one-byte
  // string made without UTF-8 decoding (≈20 ms less for 2 MB).
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname, __benchlineImport) {${readFileSync(SCRIPT, "latin1")}\n})`,
    { filename: SCRIPT, ...(cachedData ? { cachedData } : {}) },
  );
  if (process.env.BENCHLINE_DEBUG)
    process.stderr.write(
      `benchline: code cache ${cachedData === undefined ? "absent" : script.cachedDataRejected ? "rejected (another node or other V8 flags): compiling" : "used"} (${CACHE})\n`,
    );
  const module = { exports: {} as { main: Main } };
  (script.runInThisContext() as (...args: unknown[]) => void)(
    module.exports,
    createRequire(SCRIPT),
    module,
    SCRIPT,
    dirname(SCRIPT),
    // The script's import()s (scripts/build.ts): resolved from here, the directory it is in.
    (specifier: string) => import(specifier),
  );
  if (options.writeCache) process.on("exit", () => writeFileSync(CACHE, script.createCachedData()));
  return module.exports.main(argv);
}
