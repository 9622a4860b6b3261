/**
 * `benchline view` at scale: generates one trial of N rows (default 1,000,000: prompts,
 * predictions and scores, 5% errors, 20 categories), then measures against the real CLI in
 * Debian's Chromium:
 *   - baseline: a naive viewer's load, reading predictions.jsonl line by line into memory
 *     (readline + JSON.parse), in its own process: time and peak RSS;
 *   - start-up (URL printed), the index built from nothing (first request), its rate;
 *   - after a restart (index read from disk): first page (in a browser just started, and again
 *     after another restart in a browser already open), a filter, a sort, a text search,
 *     each timed in the browser until the table shows the result;
 *   - the server's RSS (current and peak, /proc).
 *
 *   npx tsx bench/viewer.ts [--rows 1000000] [--dir /tmp/x (kept; reused if it holds the rows)] [--dist]
 * CPU times (user + system, from /proc) are given beside wall times: on a shared machine they
 * show the work done, apart from the wait for a core.
 * `--dist` runs the built CLI (`bin/benchline.js`, after `npm run build`) instead of tsx.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

function lineCount(path: string): number {
  const r = spawnSync("wc", ["-l", path], { encoding: "utf8" });
  return Number(r.stdout.trim().split(/\s+/)[0]);
}

/** CPU time (user + system) a process has used so far, in ms (/proc/<pid>/stat, 100 ticks/s). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const ROOT = resolve(fileURLToPath(import.meta.url), "../..");
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const ROWS = Number(arg("--rows") ?? 1_000_000);
const keep = arg("--dir");
const useDist = process.argv.includes("--dist");
const dir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), "benchline-view-bench-"));
const TRIAL = "model__plain__0123abcd";
const NEEDLE = "zebracorn";

function generate(): { bytes: number } {
  const exp = join(dir, "runs", "big");
  const tdir = join(exp, TRIAL);
  mkdirSync(tdir, { recursive: true });
  const manifest = {
    name: "big",
    task: { name: "qa", options: {} },
    dataset: { path: "data.jsonl", rows: ROWS },
    limit: null,
    samples: 1,
    scorers: ["exact"],
    stats: { iterations: 1000, confidence: 0.95, seed: 0, alpha: 0.05 },
    trials: [{ name: TRIAL, hash: "0123abcd", model: "model", prompt_set: "plain" }],
  };
  const write = (path: string, text: string) => {
    const fd = openSync(path, "w");
    writeSync(fd, text);
    closeSync(fd);
  };
  write(join(exp, "experiment.json"), JSON.stringify(manifest));
  write(
    join(tdir, "trial.json"),
    JSON.stringify({
      name: TRIAL,
      hash: "0123abcd",
      spec: { task: { name: "qa" }, scorers: [{ name: "exact", options: {} }], model: { id: "model" } },
    }),
  );
  let bytes = 0;
  const files = ["prompts", "predictions", "scores"].map((f) => openSync(join(tdir, `${f}.jsonl`), "w"));
  let seed = 1;
  const rand = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const words = "the of a model answer question number river city capital plus minus equals value".split(" ");
  const sentence = (n: number) =>
    Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(" ");
  const BATCH = 20_000;
  for (let start = 0; start < ROWS; start += BATCH) {
    const parts: string[][] = [[], [], []];
    for (let i = start; i < Math.min(ROWS, start + BATCH); i++) {
      const id = `item-${i}`;
      const question = `${sentence(25)}${i % 10_000 === 7 ? ` ${NEEDLE}` : ""} #${i}?`;
      parts[0]!.push(
        JSON.stringify({
          id,
          prompt_hash: "0000000000000000",
          messages: [{ role: "user", content: question }],
          prompt: question,
          user: question,
          metadata: { category: `cat-${i % 20}` },
          index: i,
        }),
      );
      const error = i % 20 === 3;
      parts[1]!.push(
        JSON.stringify({
          id,
          sample: 0,
          model: "model",
          prompt_hash: "0000000000000000",
          status: error ? "error" : "ok",
          completion: error ? "" : sentence(20),
          ...(error
            ? { error: { code: ["timeout", "http_500", "rate_limit"][i % 3], message: "failed" } }
            : {}),
          latency_ms: 100,
          attempts: 1,
          cached: false,
          created_at: "2026-01-01T00:00:00.000Z",
        }),
      );
      if (!error) {
        const value = rand() < 0.6 ? 1 : 0;
        parts[2]!.push(
          JSON.stringify({ id, sample: 0, scorer: "exact", value, passed: value === 1, basis: "abc" }),
        );
      }
    }
    parts.forEach((p, k) => {
      const text = `${p.join("\n")}\n`;
      bytes += Buffer.byteLength(text);
      writeSync(files[k]!, text);
    });
  }
  for (const fd of files) closeSync(fd);
  return { bytes };
}

/** The naive load, in its own process: every prediction row parsed into one array. */
function baseline(): { ms: number; cpu_ms: number; peak_mb: number } {
  const script = `
    const { createReadStream } = require("node:fs");
    const { createInterface } = require("node:readline");
    const { readFileSync } = require("node:fs");
    (async () => {
      const t = performance.now();
      const rows = [];
      for await (const line of createInterface({ input: createReadStream(process.argv[1]) })) rows.push(JSON.parse(line));
      const ms = performance.now() - t;
      const cpu = process.cpuUsage();
      const hwm = /VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1];
      console.log(JSON.stringify({ ms: Math.round(ms), cpu_ms: Math.round((cpu.user + cpu.system) / 1000), peak_mb: Math.round(hwm / 1024), rows: rows.length }));
    })();`;
  const r = spawnSync(
    process.execPath,
    ["--max-old-space-size=8192", "-e", script, join(dir, "runs/big", TRIAL, "predictions.jsonl")],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

async function startView(): Promise<{ child: ChildProcess; url: string; ready_ms: number }> {
  const started = performance.now();
  const args = useDist
    ? [join(ROOT, "bin", "benchline.js")]
    : [
        "--import",
        pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href,
        join(ROOT, "src/cli/bin.ts"),
      ];
  const child = spawn(process.execPath, [...args, "view", "runs", "--port", "0"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  while (!/http:\/\/\S+/.test(out)) {
    if (child.exitCode !== null) throw new Error(`viewer exited: ${out}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { child, url: out.match(/http:\/\/\S+/)![0], ready_ms: Math.round(performance.now() - started) };
}

function rss(pid: number): { rss_mb: number; peak_mb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]);
  return { rss_mb: Math.round(kb("VmRSS") / 1024), peak_mb: Math.round(kb("VmHWM") / 1024) };
}

async function main(): Promise<void> {
  const load = loadavg().map((x) => x.toFixed(2));
  console.error(`generating ${ROWS} rows in ${dir} …`);
  let t = performance.now();
  const existing = join(dir, "runs/big", TRIAL, "predictions.jsonl");
  const reuse = keep !== undefined && existsSync(existing) && lineCount(existing) === ROWS;
  const { bytes } = reuse
    ? {
        bytes: ["prompts", "predictions", "scores"].reduce(
          (a, f) => a + statSync(join(dir, "runs/big", TRIAL, `${f}.jsonl`)).size,
          0,
        ),
      }
    : generate();
  console.error(`  ${(bytes / 1e6).toFixed(0)} MB in ${Math.round(performance.now() - t)} ms`);

  const base = baseline();
  console.error(
    `baseline (readline + JSON.parse of predictions.jsonl): ${base.ms} ms, peak ${base.peak_mb} MB`,
  );

  // Cold: no index yet. The first request builds it.
  rmSync(join(dir, "runs/big", TRIAL, ".benchline-view.idx"), { force: true });
  const cold = await startView();
  const cpuBefore = cpuMs(cold.child.pid!);
  const readyCpu = cpuBefore;
  t = performance.now();
  const res = await fetch(`${cold.url}api/e/big/t/${TRIAL}/rows?limit=50`);
  const first = (await res.json()) as { total: number };
  const buildMs = Math.round(performance.now() - t);
  const buildCpu = cpuMs(cold.child.pid!) - cpuBefore;
  const coldRss = rss(cold.child.pid!);
  cold.child.kill("SIGTERM");
  await new Promise((r) => cold.child.once("exit", r));
  if (first.total !== ROWS) throw new Error(`expected ${ROWS} rows, got ${first.total}`);

  // Warm: the index is read from disk.
  const warm = await startView();
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const page = await browser.newPage();
  const timed = async (action: () => Promise<unknown>, expect: RegExp): Promise<number> => {
    const before = await page.evaluate(() => document.body?.dataset.ready ?? "");
    const s = performance.now();
    await action();
    // A new render (the page counts them) whose table shows the expected rows.
    await page.waitForFunction(
      ([src, prev]) =>
        document.body.dataset.ready !== undefined &&
        document.body.dataset.ready !== prev &&
        new RegExp(src!).test(document.querySelector("#page-info")?.textContent ?? document.title),
      [expect.source, before] as const,
      { timeout: 120_000 },
    );
    return Math.round(performance.now() - s);
  };
  const total = ROWS.toString();
  const warmCpu0 = cpuMs(warm.child.pid!);
  const firstPage = await timed(
    () => page.goto(`${warm.url}e/big/t/${TRIAL}`),
    new RegExp(`^1–50 of ${total} rows`),
  );
  const firstPageCpu = cpuMs(warm.child.pid!) - warmCpu0;
  const filter = await timed(() => page.selectOption("#filter-status", "failed"), /^1–50 of \d+ rows/);
  const category = await timed(() => page.selectOption("#filter-category", "cat-7"), /^1–50 of \d+ rows/);
  await timed(() => page.goto(`${warm.url}e/big/t/${TRIAL}`), new RegExp(`of ${total} rows`));
  const sort = await timed(
    () => page.locator('a.sort[data-sort="score"]').click(),
    new RegExp(`of ${total} rows`),
  );
  const sortId = await timed(
    () => page.locator('a.sort[data-sort="id"]').click(),
    new RegExp(`of ${total} rows`),
  );
  await page.goto(`${warm.url}e/big/t/${TRIAL}`);
  await page.waitForSelector("#filter-q");
  const search = await timed(
    async () => {
      await page.fill("#filter-q", NEEDLE.toUpperCase());
      await page.locator("#filter-apply").click();
    },
    new RegExp(`of ${Math.ceil(ROWS / 10_000)} rows`),
  );
  const sample = await timed(async () => {
    await page.locator("#rows tbody a").first().click();
    await page.waitForSelector("#sample-page");
  }, /.*/);
  const warmRss = rss(warm.child.pid!);
  warm.child.kill("SIGTERM");
  await new Promise((r) => warm.child.once("exit", r));

  // Restarted again, with the browser already running (the experiments list shown first, which
  // does not open the trial's index): the first page of the trial is then the server's time.
  const third = await startView();
  await page.goto(third.url);
  await page.waitForFunction(() => document.body.dataset.ready !== undefined);
  const thirdCpu0 = cpuMs(third.child.pid!);
  const s3 = performance.now();
  await page.goto(`${third.url}e/big/t/${TRIAL}`);
  // a new document: its first render (the experiments page's count started again too)
  await page.waitForFunction(
    (src) =>
      document.body.dataset.ready !== undefined &&
      new RegExp(src).test(document.querySelector("#page-info")?.textContent ?? ""),
    `^1–50 of ${total} rows`,
    { timeout: 120_000 },
  );
  const firstPageOpenBrowser = Math.round(performance.now() - s3);
  const firstPageOpenBrowserCpu = cpuMs(third.child.pid!) - thirdCpu0;
  await browser.close();
  third.child.kill("SIGTERM");

  const result = {
    rows: ROWS,
    files_mb: Math.round(bytes / 1e6),
    lines: ROWS * 3 - ROWS / 20,
    machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}`,
    load_average: load.join(" "),
    cli: useDist ? "bin/benchline.js (dist)" : "src via tsx",
    baseline_naive_load: base,
    ready_ms_cold: cold.ready_ms,
    ready_ms_warm: warm.ready_ms,
    index_build_ms: buildMs,
    ready_cpu_ms_cold: readyCpu,
    index_build_cpu_ms: buildCpu,
    index_rows_per_s: Math.round(ROWS / (buildMs / 1000)),
    index_rows_per_cpu_s: Math.round(ROWS / (buildCpu / 1000)),
    index_lines_per_s: Math.round((ROWS * 3 - ROWS / 20) / (buildMs / 1000)),
    build_vs_baseline: Number((buildMs / base.ms).toFixed(2)),
    build_cpu_vs_baseline_cpu: Number((buildCpu / base.cpu_ms).toFixed(2)),
    server_after_build: coldRss,
    first_page_server_cpu_ms: firstPageCpu,
    first_page_browser_open_ms: firstPageOpenBrowser,
    first_page_browser_open_server_cpu_ms: firstPageOpenBrowserCpu,
    browser_ms: {
      first_page: firstPage,
      filter_status: filter,
      filter_category: category,
      sort_score: sort,
      sort_id: sortId,
      text_search: search,
      open_sample: sample,
    },
    server_after_browsing: warmRss,
    rss_vs_baseline: Number((Math.max(coldRss.peak_mb, warmRss.peak_mb) / base.peak_mb).toFixed(2)),
  };
  console.log(JSON.stringify(result, null, 2));
  if (!keep) rmSync(dir, { recursive: true, force: true });
}

await main();
