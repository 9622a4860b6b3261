import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCosts } from "./experiment.js";
import { renderExperimentHtml } from "./html.js";
import { scoreColor, trialColor } from "./svg.js";
import { colorHistogram, countNear, decodePng } from "./test-utils/png.js";
import {
  FIXTURE_TRIALS,
  makeComparison,
  makeReportData,
  makeTrial,
  TRIAL_NAMES,
} from "./test-utils/report-fixture.js";

const html = renderExperimentHtml(makeReportData());
const count = (text: string, pattern: RegExp): number => [...text.matchAll(pattern)].length;
/** The markup of one element by id, up to its closing tag (charts and tables do not nest their own tag). */
const element = (text: string, tag: string, id: string): string => {
  const start = text.indexOf(`<${tag} id="${id}"`);
  expect(start, `no <${tag} id="${id}">`).toBeGreaterThanOrEqual(0);
  return text.slice(start, text.indexOf(`</${tag}>`, start) + tag.length + 3);
};

describe("renderExperimentHtml", () => {
  it("is a complete document with the experiment's header fields", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("<title>gsm-lite: prompt ablation · benchline report</title>");
    const header = element(html, "header", "report-header");
    for (const text of ["qa", "examples/data/gsm-lite.jsonl", "0.1.0", "exact", "1 / 3", "$0.06"]) {
      expect(header).toContain(text);
    }
    expect(html.trimEnd().endsWith("</html>")).toBe(true);
  });

  it("references no external resource (no src, off-page href, url() or @import)", () => {
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\ssrc\s*=/i);
    expect(html).not.toMatch(/@import/i);
    for (const [, target] of html.matchAll(/href="([^"]*)"/g)) expect(target).toMatch(/^#[\w-]+$/);
    for (const [, target] of html.matchAll(/url\(([^)]*)\)/g)) expect(target).toMatch(/^#[\w-]+$/);
    expect(html).toContain(
      `content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"`,
    );
  });

  it("escapes user-controlled names: a <script> in a category name stays text", () => {
    const hostile = makeTrial({
      trial: `x"><img src=x onerror=alert(1)>`,
      model: "<b>model</b>",
      prompt_set: "a & b",
      mean_score: 0.5,
      per_category: { '<script>alert("category")</script>': { n: 3, mean: 0.5 } },
      errors: { count: 1, rate: 0.1, by_code: { "<i>code</i>": 1 } },
    });
    const out = renderExperimentHtml(
      makeReportData({ name: "</title><script>alert(0)</script>", trials: [hostile], comparisons: [] }),
    );
    expect(count(out, /<script/g)).toBe(1); // the page's own table-sorting script
    expect(out).toContain("&lt;script&gt;alert(&quot;category&quot;)&lt;/script&gt;");
    expect(out).toContain('data-category="&lt;script&gt;alert(&quot;category&quot;)&lt;/script&gt;"');
    expect(out).toContain("x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    expect(out).not.toMatch(/<img|<b>|<i>|<\/title><script/);
    expect(out).toContain("&lt;b&gt;model&lt;/b&gt;");
  });

  it("is deterministic", () => {
    expect(renderExperimentHtml(makeReportData())).toBe(html);
  });

  it("shows means with CIs, pass@k, differences, costs and error codes", () => {
    const trials = element(html, "table", "table-trials");
    expect(trials).toContain('<strong>83.3%</strong> <span class="ci-text">[76.3%, 89.6%]</span>');
    expect(trials).toContain("40 × 3");
    expect(trials).toContain("2 (1.7%)");
    expect(trials).toContain("no scores");

    const passAtK = element(html, "table", "table-pass-at-k");
    expect(passAtK).toContain("pass@3");
    expect(passAtK).toContain("92.5%");

    const costs = element(html, "table", "table-costs");
    expect(costs).toContain("38,400");
    expect(costs).toContain("$0.04");
    expect(costs).toContain("$0.00042"); // 0.0421 / 100 passes

    const errors = element(html, "table", "table-errors");
    for (const code of ["context_length", "http_500", "timeout"]) expect(errors).toContain(`>${code}<`);
    expect(errors).toContain("120 (100.0%)");
  });

  it("marks the one significant difference and says Holm-corrected at alpha", () => {
    expect(html).toContain("Holm-corrected at alpha = 0.05 across 3 comparisons");
    const table = element(html, "table", "table-comparisons");
    expect(count(table, /<tr class="significant">/g)).toBe(1);
    expect(count(table, /class="badge">significant</g)).toBe(1);
    const row = table.slice(table.indexOf('<tr class="significant">'));
    expect(row).toContain("−29.2 pp");
    expect(row).toContain("[−40.0, −18.3]");
    expect(row).toContain("&lt;0.001");
    expect(table).toContain("permutation (Monte Carlo)");
  });

  it("draws a bar with a CI whisker per scored trial and 'no scores' for the rest", () => {
    const chart = element(html, "svg", "chart-scores");
    expect(count(chart, /<rect class="bar"/g)).toBe(3);
    expect(count(chart, /<path class="ci"/g)).toBe(3);
    expect(chart).toContain(`data-trial="${TRIAL_NAMES.cot}" data-value="0.833333"`);
    expect(chart).toContain('data-low="0.7625" data-high="0.895833"');
    expect(chart).toMatch(
      new RegExp(`class="trial-row no-score" data-trial="${TRIAL_NAMES.broken}"[^]*?no scores`),
    );
  });

  it("plots cost against score, and puts every point at $0 with a note when nothing cost anything", () => {
    const chart = element(html, "svg", "chart-cost");
    expect(count(chart, /<circle class="point"/g)).toBe(3);
    expect(chart).toContain(`data-trial="${TRIAL_NAMES.cot}" data-cost="0.0421" data-value="0.833333"`);
    expect(chart).not.toContain("no cost recorded");
    expect(html).toContain(`Not plotted (no scores): ${TRIAL_NAMES.broken}.`);

    const free = FIXTURE_TRIALS.map((t) => ({ ...t, usage: { ...t.usage, cost_usd: 0 } }));
    const zero = element(renderExperimentHtml(makeReportData({ trials: free })), "svg", "chart-cost");
    expect(zero).toContain("no cost recorded");
    const xs = [...zero.matchAll(/<circle class="point" cx="([\d.]+)"/g)].map((m) => m[1]);
    expect(xs).toHaveLength(3);
    expect(new Set(xs).size).toBe(1);
    expect(zero).not.toMatch(/NaN|Infinity/);
  });

  it("colours one heatmap cell per trial and category, and omits the heatmap without categories", () => {
    const chart = element(html, "svg", "chart-categories");
    expect(count(chart, /<rect class="cell/g)).toBe(4 * 3);
    expect(count(chart, /<rect class="cell empty-cell"/g)).toBe(3); // the trial without scores
    expect(chart).toContain(
      `fill="${scoreColor(0.911111)}" data-trial="${TRIAL_NAMES.cot}" data-category="arithmetic" data-value="0.911111"`,
    );
    expect(chart).toContain(">91.1%</text>");
    expect(chart).toContain('data-category="sets &amp; logic"');

    const plain = FIXTURE_TRIALS.map((t) => ({ ...t, per_category: {} }));
    const out = renderExperimentHtml(makeReportData({ trials: plain }));
    expect(out).not.toContain('<svg id="chart-categories"');
    expect(out).toContain('id="categories-none"');
  });

  it("renders comparisons without shared items (NaN, or null after a JSON round trip) as dashes", () => {
    const empty = { ...makeComparison("a", "b", { mean_a: 0, mean_b: 0, ci: [0, 0], p: 1, p_adjusted: 1 }) };
    const nan = { ...empty, n_shared: 0, diff: Number.NaN, ci_low: Number.NaN, ci_high: Number.NaN };
    const fromJson = JSON.parse(JSON.stringify(nan)) as typeof nan;
    for (const row of [nan, fromJson]) {
      const table = element(
        renderExperimentHtml(makeReportData({ comparisons: [row] })),
        "table",
        "table-comparisons",
      );
      expect(table).not.toMatch(/NaN|null/);
      expect(table).toContain('<td class="num diff" data-sort="-1">–</td>');
    }
  });

  it("renders an experiment without trials", () => {
    const out = renderExperimentHtml(makeReportData({ trials: [], comparisons: [], costs: buildCosts([]) }));
    expect(out).toContain('<svg id="chart-scores"');
    expect(out).toContain("nothing to compare");
    expect(out).toContain("No errors.");
    expect(out.slice(0, out.indexOf("<script>"))).not.toMatch(/NaN|Infinity|undefined/);
  });
});

const CHROMIUM = "/usr/bin/chromium";

describe.skipIf(!existsSync(CHROMIUM))(
  `report.html in Chromium (needs ${CHROMIUM}; skipped without it)`,
  () => {
    let browser: Browser;
    let page: Page;
    let dir: string;
    let fileUrl: string;
    const requests: string[] = [];
    const blocked: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "benchline-html-"));
      const file = join(dir, "report.html");
      writeFileSync(file, html);
      fileUrl = pathToFileURL(file).href;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--no-first-run",
          "--disable-sync",
        ],
      });
      page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      await page.route("**/*", (route) => {
        const url = route.request().url();
        requests.push(url);
        if (url === fileUrl) return route.continue();
        blocked.push(url);
        return route.abort("blockedbyclient");
      });
      await page.goto(fileUrl, { waitUntil: "load" });
    });

    afterAll(async () => {
      await browser?.close();
      if (process.env.BENCHLINE_KEEP_ARTIFACTS) console.log(`report.html and screenshots kept in ${dir}`);
      else if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("requests nothing but the file itself", () => {
      expect(requests).toEqual([fileUrl]);
      expect(blocked).toEqual([]);
    });

    it("lays out each chart with the expected number of marks", async () => {
      for (const id of ["chart-scores", "chart-cost", "chart-categories"]) {
        const box = await page.locator(`#${id}`).boundingBox();
        expect(box?.width, id).toBeGreaterThan(300);
        expect(box?.height, id).toBeGreaterThan(100);
      }
      expect(await page.locator("#chart-scores rect.bar").count()).toBe(3);
      expect(await page.locator("#chart-cost circle.point").count()).toBe(3);
      expect(await page.locator("#chart-categories rect.cell").count()).toBe(12);

      // bar lengths are proportional to the means
      const widths = await page
        .locator("#chart-scores rect.bar")
        .evaluateAll((bars) => bars.map((b) => b.getBoundingClientRect().width));
      const means = [0.833333, 0.716667, 0.541667];
      for (const [i, w] of widths.entries()) expect(w / widths[0]!).toBeCloseTo(means[i]! / means[0]!, 2);

      // a more expensive trial sits further right; a better one higher up
      const points = await page
        .locator("#chart-cost circle.point")
        .evaluateAll((cs) =>
          cs.map((c) => ({ trial: c.getAttribute("data-trial"), ...c.getBoundingClientRect().toJSON() })),
        );
      const at = (trial: string) => points.find((p) => p.trial === trial)!;
      expect(at(TRIAL_NAMES.cot).x).toBeGreaterThan(at(TRIAL_NAMES.direct).x);
      expect(at(TRIAL_NAMES.direct).x).toBeGreaterThan(at(TRIAL_NAMES.local).x);
      expect(at(TRIAL_NAMES.cot).y).toBeLessThan(at(TRIAL_NAMES.local).y);
    });

    it("shows the key numbers as visible text", async () => {
      // biome-ignore lint/performance/useDomNodeTextContent: rendered text (no <title>, <style> or <script>) is the point
      const text = await page.innerText("body");
      for (const s of ["83.3%", "76.3% – 89.6%", "91.1%", "no scores", "−29.2 pp", "significant", "$0.06"]) {
        expect(text).toContain(s);
      }
      expect(await page.locator("#chart-scores text", { hasText: "83.3%" }).isVisible()).toBe(true);
      expect(await page.locator("#chart-categories text", { hasText: "91.1%" }).isVisible()).toBe(true);
      expect(await page.locator("#chart-cost text", { hasText: TRIAL_NAMES.cot }).isVisible()).toBe(true);
    });

    it("paints the charts: screenshots hold the trial and heatmap colours, not a blank canvas", async () => {
      const expected: Record<string, string[]> = {
        "chart-scores": [trialColor(0), trialColor(1), trialColor(2)],
        "chart-cost": [trialColor(0), trialColor(1), trialColor(2)],
        "chart-categories": [scoreColor(0.911111), scoreColor(0.5)],
      };
      for (const [id, colors] of Object.entries(expected)) {
        const png = await page.locator(`#${id}`).screenshot({ path: join(dir, `${id}.png`) });
        const histogram = colorHistogram(decodePng(png));
        expect(histogram.size, `${id}: distinct colours`).toBeGreaterThan(50);
        for (const color of colors)
          expect(countNear(histogram, color), `${id}: pixels of ${color}`).toBeGreaterThan(40);
      }
    });

    it("sorts a table when its header is clicked (the only script)", async () => {
      const firstTrial = async () =>
        (await page.locator("#table-trials tbody tr:first-child td:first-child").textContent()) ?? "";
      expect(await firstTrial()).toContain("openai-gpt-4o-mini__");
      await page.locator("#table-trials th", { hasText: "mean" }).click();
      expect(await firstTrial()).toContain("http-my-endpoint__"); // no scores sorts lowest
      await page.locator("#table-trials th", { hasText: "mean" }).click();
      expect(await firstTrial()).toBe(TRIAL_NAMES.cot);
    });
  },
);
