/**
 * Builds dist/ (what `npx benchline` runs; `npm install` runs this as `prepare`): esbuild bundles
 * the CLI into ES-module chunks under dist/cli/ with code splitting, so a command loads one entry
 * chunk plus the chunks its action imports, instead of hundreds of files (issue 15: start-up;
 * BENCHMARKS.md, CLI start-up). Types are checked by `npm run typecheck`, not here.
 *
 *   npx tsx scripts/build.ts
 *
 * Bundled: the small pure-JavaScript packages the start-up path loads (zod, yaml, commander, ...).
 * Left to node_modules: packages loaded only by some commands (and loaded lazily there), those
 * with native binaries, WebAssembly or files read beside their code, and undici (the HTTP client
 * loads its Agent module by path, `providers/http.ts`).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";

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

const out = join(root, "dist");
rmSync(out, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  // The viewer's index builds run in a worker thread, which loads its module by path
  // (`viewer/worker-jobs.ts` looks for index-worker.js beside itself, i.e. in dist/cli/).
  entryPoints: { bin: "src/cli/bin.ts", "index-worker": "src/viewer/index-worker.ts" },
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
  plugins: [
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
      name: "external-packages",
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          if (args.path.startsWith("node:")) return { external: true };
          const parts = args.path.split("/");
          const name = args.path.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
          return BUNDLED.has(name) ? undefined : { external: true };
        });
      },
    },
  ],
});
// Which source module landed in which chunk (test/startup.test.ts reads it).
writeFileSync(join(out, "meta.json"), JSON.stringify(result.metafile));
