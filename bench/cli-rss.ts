/**
 * Runs the CLI from source (through tsx) under `/usr/bin/time`: wall time and peak RSS of one
 * command, for the bench scripts that measure memory.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** `from`: the checkout whose `src/cli/bin.ts` runs (tsx always comes from `root`). */
export function timedCli(
  root: string,
  dir: string,
  args: string[],
  from = root,
): { ms: number; peak_mb: number } {
  const started = performance.now();
  const r = spawnSync(
    "/usr/bin/time",
    [
      "-f",
      "%M",
      process.execPath,
      "--import",
      pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href,
      join(from, "src/cli/bin.ts"),
      ...args,
    ],
    { cwd: dir, encoding: "utf8", maxBuffer: 1 << 28 },
  );
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr.slice(-2000)}`);
  const peakKb = Number(r.stderr.trim().split("\n").at(-1));
  return { ms: Math.round(performance.now() - started), peak_mb: Math.round(peakKb / 1024) };
}
