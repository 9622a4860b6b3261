#!/usr/bin/env node
// Entry point for `npx benchline`. The TypeScript build (dist/) is produced by `npm install` / `npm run build` (scripts/build.ts).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/cli/bin.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write("benchline: dist/ is missing; run `npm run build` (npm install does this) first\n");
  process.exit(1);
}
// `run` (not `run --help`) loads most of the program before its first request: it runs from one
// script compiled with the build's V8 code cache (src/cli/run-loader.ts). Other commands load
// the ES-module chunks they need. Both are the same program built from the same sources.
const args = process.argv.slice(2);
const loader =
  args[0] === "run" && !args.includes("--help") && !args.includes("-h")
    ? await import(new URL("../dist/cli/run-loader.js", import.meta.url).href)
    : undefined;
if (loader?.available()) process.exitCode = await loader.runCached(process.argv);
else await import(main.href);
