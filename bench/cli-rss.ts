/**
 * Runs the CLI under `/usr/bin/time`: wall time and peak RSS of one command, for the bench scripts
 * that measure memory. From source through tsx by default (as the tests run it), or the compiled
 * build (`dist/`, as `npx benchline` runs it) with `built`.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** `from`: the checkout whose CLI runs (tsx always comes from `root`). */
export function timedCli(
  root: string,
  dir: string,
  args: string[],
  from = root,
  options: { built?: boolean } = {},
): { ms: number; peak_mb: number } {
  if (options.built && !existsSync(join(from, "dist/cli/bin.js")))
    throw new Error(`${from}: dist/ is missing; run \`npm run build\` there first`);
  const entry = options.built
    ? [join(from, "bin/benchline.js")]
    : [
        "--import",
        pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href,
        join(from, "src/cli/bin.ts"),
      ];
  const started = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", process.execPath, ...entry, ...args], {
    cwd: dir,
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr.slice(-2000)}`);
  const peakKb = Number(r.stderr.trim().split("\n").at(-1));
  return { ms: Math.round(performance.now() - started), peak_mb: Math.round(peakKb / 1024) };
}
