import { type ChildProcess, spawnSync } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
import { hostname } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChainServer, startChainServer } from "../src/providers/test-utils/chain-server.js";
import { fileDiff, makeRepo } from "./code-edit-repo.js";
import { qaRows, runCli, runCliAsync, spawnCli, testdir } from "./helpers.js";

/**
 * `benchline view` end to end: real run directories made by the CLI (gold/echo models, a shell
 * task run in the sandbox, a slow command model for a live run), the viewer started through the
 * CLI, and Debian's Chromium driving the pages.
 */

const CHROMIUM = "/usr/bin/chromium";
const HOSTILE = [
  "<script>window.__pwned = 1</script>",
  '<img src="http://example.com/pixel.png" onerror="window.__pwned = 2">',
  '<a href="javascript:window.__pwned = 3">click me</a>',
  "\u001b[31mred alert\u001b[0m",
].join(" ");
const HUGE = `huge:${"x".repeat(250_000)}`;

let dir: string;
let runs: string;
let chain: ChainServer;
const viewers: ChildProcess[] = [];

/** Starts `benchline view` and resolves with the URL it prints. */
async function startView(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ url: string; child: ChildProcess; out: () => string }> {
  const child = spawnCli(["view", ...args], dir, env);
  viewers.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const deadline = Date.now() + 60_000;
  while (!/http:\/\/\S+/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`viewer did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: out.match(/http:\/\/\S+/)![0], child, out: () => out };
}

/** A GET with the path sent exactly as written (no `..` normalising, unlike fetch). */
function rawGet(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => {
        body += d.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

const trialOf = (exp: string, model: string): string =>
  readdirSync(join(runs, exp)).find((d) => d.startsWith(`${model}__`))!;

beforeAll(async () => {
  chain = await startChainServer({ base: { prefix: " b" }, oracle: { prefix: "\nO" } });
  const C0 = "def add(a, b):\n    return a - b\n";
  const T0 = "from calc import add\n";
  const T1 = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n";
  const repo = makeRepo({ "calc.py": C0, "tests/__init__.py": "", "tests/test_calc.py": T0 });
  const edit = {
    instance_id: "demo__calc-2",
    repo: "demo/calc",
    base_commit: repo.commit,
    patch: fileDiff("calc.py", C0, C0.replace("a - b", "a + b")),
    problem_statement: "add is wrong",
    hints_text: "",
    test_patch: fileDiff("tests/test_calc.py", T0, T1),
    FAIL_TO_PASS: JSON.stringify(["tests/test_calc.py::test_add"]),
    PASS_TO_PASS: "[]",
  };
  const hostileRows = [
    { id: "hostile", question: HOSTILE, answer: "nothing", category: "attack" },
    { id: "huge", question: HUGE, answer: "nothing", category: "attack" },
  ];
  dir = testdir({
    "data/qa.jsonl": [...qaRows(118), ...hostileRows],
    "qa.yaml": `name: qa
task: qa
dataset: data/qa.jsonl
models: [gold, echo]
prompts:
  plain:
    user: "{{question}}"
scorers: [exact]
`,
    "data/shell.jsonl": [
      {
        id: "loud",
        category: "output",
        task: "print hostile text",
        setup_commands: [],
        success_condition: "true",
        reference: `printf '%s\\n' '<script>window.__pwned = 4</script>' '<img src=x onerror="window.__pwned = 5">'; printf '\\033[32mgreen\\033[0m\\n' >&2`,
      },
      { id: "quiet", category: "output", task: "do nothing", success_condition: "false", reference: "true" },
    ],
    "data/edits.jsonl": [edit],
    "edits.yaml": `name: edits
task: {name: code-edit, repos: {demo/calc: ${repo.dir}}, variants: ["0.4"]}
dataset: data/edits.jsonl
models: [gold]
execution: {timeout: 60}
`,
    "data/guided.jsonl": [{ id: "g1", question: "one", answer: "O2" }],
    "guided.yaml": `name: guided
task: qa
dataset: data/guided.jsonl
prompts:
  qa: {user: "Q: {{question}}\\nA:"}
scorers: [includes]
models:
  - id: guided
    provider: guided
    base: {provider: vllm, model: base, base_url: "${chain.url}", mode: completion}
    oracle: {provider: vllm, model: oracle, base_url: "${chain.url}", mode: completion}
    c: 1
    k: 2
    step_size: 2
    max_new_tokens: 6
    policy: positions
    positions: [2]
`,
    "shell.yaml": `name: shell
task: shell
dataset: data/shell.jsonl
models: [gold]
scorers: [exec]
execution:
  timeout: 10
`,
  });
  runs = join(dir, "runs");
  for (const config of ["qa.yaml", "shell.yaml", "guided.yaml", "edits.yaml"]) {
    const r = await runCliAsync(["run", config, "--out", "runs"], dir);
    expect(r.code, r.stderr).toBe(0);
  }
}, 180_000);

afterAll(async () => {
  await chain?.close();
  for (const child of viewers) if (child.exitCode === null) child.kill("SIGTERM");
  if (dir && !process.env.BENCHLINE_KEEP_ARTIFACTS) rmSync(dir, { recursive: true, force: true });
  else if (dir) console.log(`viewer test files kept in ${dir}`);
});

describe("benchline view: server", () => {
  it("binds 127.0.0.1, prints the URL, and refuses a foreign Host header (DNS rebinding)", async () => {
    const { url } = await startView(["runs", "--port", "0"]);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const ok = await rawGet(url, "/api/experiments");
    expect(ok.status).toBe(200);
    expect(
      JSON.parse(ok.body)
        .map((e: { name: string }) => e.name)
        .sort(),
    ).toEqual(["edits", "guided", "qa", "shell"]);
    const csp = String((await rawGet(url, "/")).headers["content-security-policy"]);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect((await rawGet(url, "/", { Host: "evil.example:80" })).status).toBe(403);
  }, 60_000);

  it("on a non-loopback address requires the random token of the printed URL", async () => {
    const { url } = await startView(["runs", "--port", "0", "--host", "0.0.0.0"]);
    const token = new URL(url).searchParams.get("token");
    expect(token).toMatch(/^[0-9a-f]{48}$/);
    const local = url.replace("0.0.0.0", "127.0.0.1");
    expect((await rawGet(local, "/api/experiments")).status).toBe(403);
    expect((await rawGet(local, "/api/experiments?token=wrong")).status).toBe(403);
    const first = await rawGet(local, `/?token=${token}`);
    expect(first.status).toBe(200);
    const cookie = String(first.headers["set-cookie"]).split(";")[0]!;
    expect((await rawGet(local, "/api/experiments", { Cookie: cookie })).status).toBe(200);
  }, 60_000);

  it("serves only what is under dir: .., encoded slashes and symlinks get 404/403", async () => {
    const outside = testdir({ "secret.txt": "TOP SECRET", "exp/experiment.json": "{}" });
    const trial = trialOf("qa", "gold");
    symlinkSync(join(outside, "secret.txt"), join(runs, "qa", trial, "leak.jsonl"));
    symlinkSync(outside, join(runs, "qa", "escape"));
    symlinkSync(join(outside, "exp"), join(runs, "linked"));
    const { url } = await startView(["runs", "--port", "0"]);
    expect((await rawGet(url, `/raw/qa/${trial}/predictions.jsonl`)).status).toBe(200);
    for (const path of [
      "/raw/qa/../../../../etc/passwd",
      "/raw/qa/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/raw/qa%2F..%2F..%2Fetc/passwd",
      "/raw/..%2f..%2f..%2fetc%2fpasswd/x",
      `/raw/qa/${trial}/.benchline-view.idx`,
      "/api/e/..%2F..%2Ftmp",
      "/api/e/%2e%2e/t/x/rows",
    ]) {
      const r = await rawGet(url, path);
      expect([403, 404], path).toContain(r.status);
      expect(r.body).not.toContain("root:");
    }
    for (const path of [
      `/raw/qa/${trial}/leak.jsonl`,
      "/raw/qa/escape/secret.txt",
      "/api/e/qa/t/escape/rows",
      "/api/e/linked",
    ]) {
      const r = await rawGet(url, path);
      expect(r.status, path).toBe(403);
      expect(r.body).not.toContain("TOP SECRET");
    }
    rmSync(join(runs, "qa", trial, "leak.jsonl"));
    rmSync(join(runs, "qa", "escape"));
    rmSync(join(runs, "linked"));
  }, 60_000);

  it("a port in use falls back to a free one, and says so", async () => {
    const first = await startView(["runs", "--port", "0"]);
    const port = new URL(first.url).port;
    const second = await startView(["runs", "--port", port]);
    expect(new URL(second.url).port).not.toBe(port);
    expect(second.out()).toContain(`view: port ${port} is in use; using a free port`);
    expect((await rawGet(second.url, "/api/experiments")).status).toBe(200);
  }, 60_000);

  it("--open starts $BROWSER with the URL; a missing dir is a one-line usage error", async () => {
    const log = join(dir, "opened.txt");
    const browser = join(dir, "fake-browser.sh");
    writeFileSync(browser, `#!/bin/sh\necho "$1" > "${log}"\n`);
    chmodSync(browser, 0o755);
    const { url } = await startView(["runs", "--port", "0", "--open"], { BROWSER: browser });
    const deadline = Date.now() + 10_000;
    while (!existsSync(log) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(log, "utf8").trim()).toBe(url);
    const bad = runCli(["view", "no-such-dir"], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("benchline: view: no-such-dir: not a directory");
    const experiment = runCli(["view", "runs/qa"], dir);
    expect(experiment.code).toBe(2);
    expect(experiment.stderr.trim()).toBe(
      `benchline: view: runs/qa is an experiment; name the directory that holds experiments (${runs})`,
    );
  }, 60_000);
});

describe.skipIf(!existsSync(CHROMIUM))(`benchline view in Chromium (needs ${CHROMIUM})`, () => {
  let browser: Browser;
  let page: Page;
  let base: string;
  const offHost: string[] = [];

  beforeAll(async () => {
    base = (await startView(["runs", "--port", "0"])).url;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(base)) return route.continue();
      offHost.push(url);
      return route.abort("blockedbyclient");
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
  });

  const shot = async (name: string) => {
    if (process.env.BENCHLINE_KEEP_ARTIFACTS)
      await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
  };
  const text = async () => (await page.locator("#app").textContent()) ?? "";
  const ready = () => page.waitForFunction(() => document.body.dataset.ready !== undefined);

  it("lists experiments and opens one: trials with score and CI, pass@k, cost, comparisons, charts", async () => {
    await page.goto(base);
    await page.locator("#experiments a", { hasText: "qa" }).click();
    await page.waitForSelector("#trials-table");
    expect(new URL(page.url()).pathname).toBe("/e/qa");
    const body = await text();
    expect(body).toContain(trialOf("qa", "gold"));
    expect(body).toMatch(/100\.0% \(100\.0% – 100\.0%\)/);
    expect(body).toContain("pass@1");
    expect(body).toContain("$0");
    expect(await page.locator("#comparisons-table .badge.significant").count()).toBe(1);
    for (const id of ["chart-scores", "chart-cost"]) {
      await page.waitForFunction(
        (i) => ((document.getElementById(i) as HTMLImageElement | null)?.naturalWidth ?? 0) > 0,
        id,
      );
      expect(
        await page.locator(`#${id}`).evaluate((img: HTMLImageElement) => img.naturalWidth),
      ).toBeGreaterThan(300);
    }
    await shot("experiment");
  }, 60_000);

  it("a trial's samples: paginate, filter, sort, search; the back button restores the view", async () => {
    const trial = trialOf("qa", "echo");
    await page.goto(`${base}e/qa/t/${trial}`);
    await page.waitForSelector("#rows");
    expect(await page.locator("#page-info").textContent()).toMatch(/^1–50 of 120 rows/);
    await page.locator("#next").click();
    await page.waitForFunction(() => document.querySelector("#page-info")?.textContent?.startsWith("51–100"));
    expect(new URL(page.url()).searchParams.get("page")).toBe("1");

    await page.selectOption("#filter-category", "even");
    await page.waitForFunction(() =>
      /of 59 rows/.test(document.querySelector("#page-info")?.textContent ?? ""),
    );
    expect(new URL(page.url()).searchParams.get("page")).toBeNull();
    await page.selectOption("#filter-category", "");
    await page.waitForFunction(() =>
      /of 120 rows/.test(document.querySelector("#page-info")?.textContent ?? ""),
    );

    // gold scores 100%, echo 0%: status filters split the echo rows
    await page.selectOption("#filter-status", "failed");
    await page.waitForFunction(() =>
      /of 120 rows/.test(document.querySelector("#page-info")?.textContent ?? ""),
    );
    await page.selectOption("#filter-status", "passed");
    await page.waitForFunction(() =>
      /0–0 of 0 rows/.test(document.querySelector("#page-info")?.textContent ?? ""),
    );
    await page.goBack();
    await page.waitForFunction(() =>
      /of 120 rows/.test(document.querySelector("#page-info")?.textContent ?? ""),
    );
    expect(new URL(page.url()).searchParams.get("status")).toBe("failed");
    await page.selectOption("#filter-status", "");

    // sort by id, then descending
    await page.locator('a.sort[data-sort="id"]').click();
    await page.waitForFunction(() => new URL(location.href).searchParams.get("sort") === "id");
    // the URL changes before the sorted rows arrive: wait for the table itself
    await page.waitForFunction(
      () => document.querySelector("#rows tbody tr")?.getAttribute("data-id") === "hostile",
      null,
      { timeout: 10_000 },
    );
    await ready();
    const ids = await page
      .locator("#rows tbody tr")
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id")));
    expect(ids.slice(0, 3)).toEqual(["hostile", "huge", "q0"]);
    await page.locator('a.sort[data-sort="id"]').click();
    await page.waitForFunction(() => new URL(location.href).searchParams.get("desc") === "1");
    await page.waitForFunction(
      () => document.querySelector("#rows tbody tr")?.getAttribute("data-id") === "q99",
    );

    // text search in prompts/completions, case-insensitive
    await page.fill("#filter-q", "WHAT IS 117 PLUS");
    await page.locator("#filter-apply").click();
    await page.waitForFunction(() =>
      /of 1 rows/.test(document.querySelector("#page-info")?.textContent ?? ""),
    );
    expect(await page.locator("#rows tbody tr").getAttribute("data-id")).toBe("q117");
    await shot("trial");

    // a score filter on the gold trial
    await page.goto(`${base}e/qa/t/${trialOf("qa", "gold")}?min=1`);
    await page.waitForFunction(() =>
      /of 120 rows/.test(document.querySelector("#page-info")?.textContent ?? ""),
    );
    await page.goto(`${base}e/qa/t/${trialOf("qa", "gold")}?max=0.5`);
    await page.waitForFunction(() =>
      /of 0 rows/.test(document.querySelector("#page-info")?.textContent ?? ""),
    );
  }, 90_000);

  it("a sample page shows prompt, completion and scores; hostile output stays inert text", async () => {
    const trial = trialOf("qa", "echo");
    await page.goto(`${base}e/qa/t/${trial}?q=onerror`);
    await page.waitForFunction(() =>
      /of 1 rows/.test(document.querySelector("#page-info")?.textContent ?? ""),
    );
    await page.locator("#rows tbody a").first().click();
    await page.waitForSelector("#sample-page");
    expect(new URL(page.url()).pathname).toBe(`/e/qa/t/${trial}/s/hostile/0`);
    const body = await text();
    expect(body).toContain("<script>window.__pwned = 1</script>");
    expect(body).toContain('onerror="window.__pwned = 2"');
    expect(body).toContain("␛[31mred alert␛[0m");
    expect(body).toContain("exact");
    expect(await page.locator("#app script, #app img, #app iframe").count()).toBe(0);
    const hrefs = await page
      .locator("#app a")
      .evaluateAll((as) => as.map((a) => a.getAttribute("href") ?? ""));
    expect(hrefs.every((h) => h.startsWith("/"))).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await shot("hostile");

    // a 250k-character line is cut for the page and wraps inside its box
    await page.goto(`${base}e/qa/t/${trial}/s/huge/0`);
    await page.waitForSelector("#sample-page");
    expect(await text()).toContain("more characters not shown");
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(1280);
  }, 60_000);

  it("execution steps with stdout/stderr, parsed artifact, scores; hostile stdout inert", async () => {
    await page.goto(`${base}e/shell/t/${trialOf("shell", "gold")}/s/loud/0`);
    await page.waitForSelector("#sample-page");
    const body = await text();
    expect(body).toContain("Parsed artifact");
    expect(body).toMatch(/command · exit 0/);
    expect(await page.locator("pre.stdout", { hasText: "<script>window.__pwned = 4</script>" }).count()).toBe(
      1,
    );
    expect(await page.locator("pre.stderr", { hasText: "␛[32mgreen␛[0m" }).count()).toBe(1);
    expect(await page.locator("#app script, #app img").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await shot("shell-sample");
  }, 60_000);

  it("code edits: the patch as a diff, the harness steps and their output", async () => {
    await page.goto(`${base}e/edits/t/${trialOf("edits", "gold")}/s/demo__calc-2/0`);
    await page.waitForSelector("pre.diff");
    expect(await page.locator("pre.diff span.del").allTextContents()).toEqual(["-    return a - b\n"]);
    expect(await page.locator("pre.diff span.add").allTextContents()).toEqual(["+    return a + b\n"]);
    expect(await page.locator(".step").count()).toBeGreaterThan(0);
    expect(await page.locator(".badge.passed").count()).toBe(1);
    await shot("code-edit");
  }, 60_000);

  it("guided decoding: the completion's segments coloured by the model that wrote them", async () => {
    await page.goto(
      `${base}e/guided/t/${readdirSync(join(runs, "guided")).find((d) => d.includes("__"))}/s/g1/0`,
    );
    await page.waitForSelector("#guided");
    const segments = await page
      .locator("#guided span")
      .evaluateAll((spans) =>
        spans.map((s) => [s.className, s.textContent, getComputedStyle(s).backgroundColor]),
      );
    expect(segments.map(([c, t]) => [c, t])).toEqual([
      ["seg seg-base", " b0 b1"],
      ["seg seg-oracle", "\nO2\nO3"],
      ["seg seg-base", " b4 b5"],
    ]);
    expect(segments[0]![2]).not.toBe(segments[1]![2]);
  }, 60_000);

  it("compares two trials: the disagreeing items, then one item side by side", async () => {
    await page.goto(`${base}e/qa`);
    await page.waitForSelector("#compare-a");
    await page.selectOption("#compare-a", trialOf("qa", "gold"));
    await page.selectOption("#compare-b", trialOf("qa", "echo"));
    await page.locator("#compare-go").click();
    await page.waitForSelector("#disagreements");
    expect(await page.locator("#compare-info").textContent()).toMatch(/^120 of 120 shared samples differ/);
    await page.locator("#disagreements a").first().click();
    await page.waitForSelector("#pair");
    expect(await page.locator("#side-a .badge.passed").count()).toBe(1);
    expect(await page.locator("#side-b .badge.failed").count()).toBe(1);
    await shot("pair");
    await page.goBack();
    await page.waitForSelector("#disagreements");
    await page.goBack();
    await page.waitForSelector("#trials-table");
  }, 60_000);

  it("a torn last line and a half-written file still render; appended rows appear", async () => {
    const trial = trialOf("qa", "echo");
    const tdir = join(runs, "qa", trial);
    appendFileSync(
      join(tdir, "predictions.jsonl"),
      '{"id":"late","sample":0,"model":"echo","prompt_hash":"x",',
    );
    writeFileSync(join(tdir, "executions.jsonl"), '{"id":"q1","sample":0,"sta');
    await page.goto(`${base}e/qa/t/${trial}`);
    await page.waitForFunction(() =>
      /of 120 rows/.test(document.querySelector("#page-info")?.textContent ?? ""),
    );
    expect(existsSync(join(tdir, ".benchline-view.idx"))).toBe(true);
    appendFileSync(
      join(tdir, "predictions.jsonl"),
      '"completion":"late answer","status":"ok","latency_ms":1,"attempts":1,"cached":false,"created_at":"2026-01-01T00:00:00Z"}\n',
    );
    await page.goto(`${base}e/qa/t/${trial}?q=late%20answer`);
    await page.waitForFunction(() =>
      /of 1 rows/.test(document.querySelector("#page-info")?.textContent ?? ""),
    );
    expect(await page.locator("#rows tbody tr").getAttribute("data-id")).toBe("late");
    rmSync(join(tdir, "executions.jsonl"));
  }, 60_000);

  it("follows a running experiment live, with each phase's progress", async () => {
    const model = join(dir, "slow-model.sh");
    writeFileSync(model, "#!/bin/sh\ncat > /dev/null\nsleep 0.4\necho 42\n");
    chmodSync(model, 0o755);
    writeFileSync(
      join(dir, "live.yaml"),
      `name: live
task: qa
dataset: data/qa.jsonl
models: ["command:${model}"]
prompts:
  plain:
    user: "{{question}}"
scorers: [exact]
concurrency: 1
`,
    );
    const run = spawnCli(["run", "live.yaml", "--out", "runs", "--limit", "16"], dir);
    let finished = false;
    run.on("exit", () => {
      finished = true;
    });
    const deadline = Date.now() + 60_000;
    while (
      !existsSync(join(runs, "live", ".locks")) ||
      readdirSync(join(runs, "live", ".locks")).length === 0
    ) {
      if (Date.now() > deadline || finished) throw new Error("the live run did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
    await page.goto(`${base}e/live`);
    await page.waitForSelector("#progress");
    expect(await page.locator("h1 .badge").textContent()).toBe("running");
    const done = () =>
      page
        .locator("#progress tbody td:nth-child(3)")
        .textContent()
        .then((t) => Number((t ?? "").split(" / ")[0]));
    const first = await done();
    await page.waitForFunction(
      (n) =>
        Number(document.querySelector("#progress tbody td:nth-child(3)")?.textContent?.split(" / ")[0]) > n,
      first,
      { timeout: 30_000 },
    );
    expect(page.url()).toBe(`${base}e/live`);
    await new Promise<void>((resolve) => (finished ? resolve() : run.on("exit", () => resolve())));
    await page.waitForFunction(() => document.querySelector("h1 .badge")?.textContent === "finished", null, {
      timeout: 30_000,
    });
    expect(await page.locator("#progress tbody td:nth-child(5)").textContent()).toBe("16");
    await shot("live");
  }, 120_000);

  it("requested nothing off-host", () => {
    expect(offHost).toEqual([]);
  });
});

describe("benchline view: the index", () => {
  it("is saved beside the trial files and reused by the next start", async () => {
    const trial = trialOf("shell", "gold");
    const idx = join(runs, "shell", trial, ".benchline-view.idx");
    const first = await startView(["runs", "--port", "0"]);
    const rows = await rawGet(first.url, `/api/e/shell/t/${trial}/rows`);
    expect(JSON.parse(rows.body).total).toBe(2);
    const saved = statSync(idx).mtimeMs;
    first.child.kill("SIGTERM");
    const second = await startView(["runs", "--port", "0"]);
    const again = JSON.parse((await rawGet(second.url, `/api/e/shell/t/${trial}/rows?status=failed`)).body);
    expect(again.total).toBe(1);
    expect(again.rows[0].id).toBe("quiet");
    expect(statSync(idx).mtimeMs).toBe(saved);
    mkdirSync(join(runs, "empty"), { recursive: true });
  }, 60_000);
});

describe("benchline view: run status", () => {
  it("shows a run whose lock holder died as interrupted, not running (stale lock)", async () => {
    const exp = join(runs, "stale");
    mkdirSync(join(exp, ".locks"), { recursive: true });
    writeFileSync(
      join(exp, "experiment.json"),
      JSON.stringify({ name: "stale", task: { name: "qa" }, trials: [] }),
    );
    const dead = spawnSync("true").pid; // exited: its pid is gone (or reused by a process with another start time)
    const owner = (pid: number, token: string) => ({
      token,
      pid,
      host: hostname(),
      boot_id: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
      pid_start: startOf(pid) ?? "1",
      started_at: new Date().toISOString(),
      renewed_at: new Date().toISOString(),
      lease_ms: 60_000,
      command: "benchline run",
      trials: "*",
      shard: null,
    });
    writeFileSync(join(exp, ".locks", "dead.json"), JSON.stringify(owner(dead, "dead")));
    const { url } = await startView(["runs", "--port", "0"]);
    const state = async () => {
      const list = JSON.parse((await rawGet(url, "/api/experiments")).body) as {
        name: string;
        running: boolean;
        interrupted: boolean;
      }[];
      const one = JSON.parse((await rawGet(url, "/api/e/stale")).body);
      const listed = list.find((e) => e.name === "stale")!;
      expect(one.running).toBe(listed.running);
      expect(one.interrupted).toBe(listed.interrupted);
      return { running: one.running, interrupted: one.interrupted };
    };
    expect(await state()).toEqual({ running: false, interrupted: true });
    // the stale file is left for the next run to take over: the viewer only reads
    expect(existsSync(join(exp, ".locks", "dead.json"))).toBe(true);
    // a live holder beside it (this test process) makes it running again
    writeFileSync(join(exp, ".locks", "live.json"), JSON.stringify(owner(process.pid, "live")));
    expect(await state()).toEqual({ running: true, interrupted: false });
    rmSync(exp, { recursive: true });
  }, 60_000);
});

/** Field 22 of /proc/<pid>/stat, as pipeline/lock.ts records it. */
function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}
