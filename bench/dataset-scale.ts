/**
 * Dataset scale: `benchline run --phase prompts -m gold` over a generated qa dataset of N rows
 * (default 1,000,000) and, in the same run, of N/10 rows (the baseline), each in a fresh CLI
 * process, measuring wall time and peak RSS (`/usr/bin/time`). Memory flat in the dataset's size
 * shows as RSS(N) ÷ RSS(N/10) far below 10.
 *
 *   npx tsx bench/dataset-scale.ts [--n 1000000] [--baseline 100000] [--built] [--checkout <dir>] [--whole]
 *
 * With `--built`, `--checkout` runs that checkout's build too (`bin/benchline.js`, its `dist/`);
 * `--no-tsx` leaves out the runs from source (only the built CLIs).
 * `--whole` runs the whole `benchline run` (prompts, inference with `gold`, scoring with `exact`,
 * the reports) instead of the prompts phase alone.
 *
 * The CLI runs from source through tsx (as the tests run it); `--built` also runs the compiled
 * build (`npm run build` first; as `npx benchline` runs it), whose figure has no loader in it.
 * `--checkout` also runs another checkout's CLI (its `src/cli/bin.ts` through this one's tsx) on
 * the same files, for a before/after in the same run.
 */
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { timedCli } from "./cli-rss.js";

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const root = resolve(import.meta.dirname, "..");
const n = arg("n", 1_000_000);
const base = arg("baseline", Math.round(n / 10));
const checkoutAt = argv.indexOf("--checkout");
const checkout = checkoutAt >= 0 ? resolve(argv[checkoutAt + 1] as string) : undefined;
const built = argv.includes("--built");
const whole = argv.includes("--whole");
const tsx = !argv.includes("--no-tsx");
const phaseArgs = whole ? [] : ["--phase", "prompts"];

async function dataset(dir: string, rows: number): Promise<void> {
  const out = createWriteStream(join(dir, "data.jsonl"));
  for (let i = 0; i < rows; i++) {
    const line = `${JSON.stringify({ id: `q${i}`, question: `What is ${i} plus one?`, answer: String(i + 1) })}\n`;
    if (!out.write(line)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((r, reject) => out.end((error?: Error | null) => (error ? reject(error) : r())));
  writeFileSync(
    join(dir, "exp.yaml"),
    `name: scale\ntask: qa\ndataset: data.jsonl\nmodels: [gold]\nprompts: {plain: {user: "{{question}}"}}\nscorers: [exact]\n`,
  );
}

function cli(
  dir: string,
  args: string[],
  from = root,
  options: { built?: boolean } = {},
): { seconds: number; peak_mb: number } {
  const { ms, peak_mb } = timedCli(root, dir, args, from, options);
  return { seconds: Number((ms / 1000).toFixed(2)), peak_mb };
}

type Measured = { rows: number; mb: number; seconds: number; peak_mb: number };
async function measure(rows: number): Promise<Measured & { built?: Measured; checkout?: Measured }> {
  const dir = mkdtempSync(join(tmpdir(), "benchline-scale-"));
  try {
    await dataset(dir, rows);
    const mb = Number((statSync(join(dir, "data.jsonl")).size / 2 ** 20).toFixed(1));
    const args = ["run", "exp.yaml", ...phaseArgs, "-m", "gold", "--log", "json"];
    const r = tsx ? cli(dir, args) : { seconds: Number.NaN, peak_mb: Number.NaN };
    const b = built ? cli(dir, [...args, "--out", "runs-built"], root, { built }) : undefined;
    const other = checkout ? cli(dir, [...args, "--out", "runs-checkout"], checkout, { built }) : undefined;
    return {
      rows,
      mb,
      ...r,
      ...(b ? { built: { rows, mb, ...b } } : {}),
      ...(other ? { checkout: { rows, mb, ...other } } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const small = await measure(base);
const large = await measure(n);
const result = {
  bench: "dataset-scale",
  command: `benchline run exp.yaml ${phaseArgs.join(" ")} -m gold`.replace("  ", " "),
  baseline: small,
  measured: large,
  rows_ratio: Number((large.rows / small.rows).toFixed(1)),
  time_ratio: Number((large.seconds / small.seconds).toFixed(2)),
  rss_ratio: Number((large.peak_mb / small.peak_mb).toFixed(2)),
  ...(small.built && large.built
    ? { built_rss_ratio: Number((large.built.peak_mb / small.built.peak_mb).toFixed(2)) }
    : {}),
  machine: {
    nproc: cpus().length,
    memory_gb: Math.round(totalmem() / 2 ** 30),
    load_after: Number((loadavg()[0] as number).toFixed(1)),
  },
};
console.log(
  `${small.rows} rows (${small.mb} MB): ${small.seconds} s, peak RSS ${small.peak_mb} MB\n` +
    `${large.rows} rows (${large.mb} MB): ${large.seconds} s, peak RSS ${large.peak_mb} MB\n` +
    `ratio ${result.rows_ratio}× rows: time ${result.time_ratio}×, peak RSS ${result.rss_ratio}×`,
);
if (small.built && large.built)
  console.log(
    `built (dist/): ${small.rows} rows ${small.built.seconds} s, ${small.built.peak_mb} MB; ` +
      `${large.rows} rows ${large.built.seconds} s, ${large.built.peak_mb} MB ` +
      `(peak RSS ${(large.built.peak_mb / small.built.peak_mb).toFixed(2)}×)`,
  );
if (small.checkout && large.checkout)
  console.log(
    `${checkout}: ${small.rows} rows ${small.checkout.seconds} s, ${small.checkout.peak_mb} MB; ` +
      `${large.rows} rows ${large.checkout.seconds} s, ${large.checkout.peak_mb} MB ` +
      `(peak RSS ${(large.checkout.peak_mb / small.checkout.peak_mb).toFixed(2)}×)`,
  );
console.log(JSON.stringify(result));
