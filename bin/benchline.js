#!/usr/bin/env node
// Entry point for `npx benchline`. The TypeScript build (dist/) is produced by `npm install` / `npm run build` (scripts/build.ts).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/cli/bin.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write("benchline: dist/ is missing; run `npm run build` (npm install does this) first\n");
  process.exit(1);
}
await import(main.href);
