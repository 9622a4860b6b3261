import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers.js";

/**
 * Issue 15 (start-up): a command loads what it needs when it runs. Which modules a CLI process
 * loads is seen through a module hook that prints every URL it resolves (ES modules; undici is
 * CommonJS and checked through the providers that load it).
 */
const HOOK = `data:text/javascript,${encodeURIComponent(
  'export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write("LOADED " + r.url + "\\n"); return r; }',
)}`;

function loaded(args: string[]): string[] {
  const r = spawnSync(
    process.execPath,
    [
      "--no-warnings",
      "--import",
      pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href,
      "--experimental-loader",
      HOOK,
      join(ROOT, "src", "cli", "bin.ts"),
      ...args,
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
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
      const heavy = urls.filter(
        (u) =>
          !u.endsWith("/src/sandbox/kinds.ts") &&
          /\/node_modules\/(zod|yaml|lossless-json)\/|\/src\/(providers|tasks|sandbox|scoring|report|config)\/|\/src\/pipeline\/(run|resolve|index)\.ts/.test(
            u,
          ),
      );
      expect(heavy).toEqual([]);
    },
  );
});
