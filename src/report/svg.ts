/**
 * Inline SVG charts for report.html, built as strings on the server: no DOM, no scripts, no
 * fonts to fetch. Pure and deterministic (coordinates rounded to 0.1 px). Every user-controlled
 * string goes through {@link esc}; every chart mark carries `data-*` attributes tests can query.
 */

/** Escapes text for HTML/SVG element content and double-quoted attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** Categorical colours (Tableau 10), one per trial in every chart, cycled. */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#9c755f",
  "#ff9da7",
  "#bab0ac",
] as const;

export const trialColor = (index: number): string => PALETTE[index % PALETTE.length]!;

/** `0.8333 → "83.3%"`; "–" when missing or not finite. */
export const pct = (x: number | null | undefined): string =>
  x === null || x === undefined || !Number.isFinite(x) ? "–" : `${(x * 100).toFixed(1)}%`;

/** A confidence level: `0.95 → "95%"`. */
export const conf = (c: number): string => `${Number((c * 100).toFixed(1))}%`;

/** US dollars with enough digits for sub-cent amounts: `$1.25`, `$0.0042`, `$0`. */
export function usd(x: number): string {
  if (!Number.isFinite(x)) return "–";
  if (x === 0) return "$0";
  if (x >= 0.01) return `$${x.toFixed(2)}`;
  if (x < 1e-6) return "<$0.000001";
  return `$${Number(x.toPrecision(2))}`;
}

/** One trial's row in {@link scoreChart} and point in {@link costChart}. */
export interface ChartTrial {
  trial: string;
  /** Second label line, e.g. `model · prompt set`. */
  detail: string;
  color: string;
  mean: number | null;
  ci: { low: number; high: number } | null;
  cost_usd: number;
}

/**
 * Horizontal bars of the mean score per trial, 0–100 %, with the confidence interval as a
 * whisker and the value in a right-hand column. Each trial's name and `detail` sit above its bar,
 * so long names get the full width; a trial without scores reads "no scores".
 */
export function scoreChart(trials: ChartTrial[], opts: { scorer: string; confidence: number }): string {
  const [x0, x1, top, rowH] = [24, WIDTH - 170, 6, 52];
  const axisY = top + trials.length * rowH + 4;
  const height = axisY + 42;
  const x = (v: number): number => x0 + clamp01(v) * (x1 - x0);

  const parts = [0, 0.25, 0.5, 0.75, 1].map(
    (v) =>
      `<line class="grid" x1="${r(x(v))}" x2="${r(x(v))}" y1="${top}" y2="${axisY}"/>` +
      `<text class="tick" x="${r(x(v))}" y="${axisY + 16}" text-anchor="middle">${v * 100}%</text>`,
  );
  trials.forEach((t, i) => {
    const y = top + i * rowH + 34;
    const nameW = Math.min(textWidth(t.trial, 13, true), x1 - x0);
    const label =
      `<text class="label" x="${x0}" y="${y - 14}">${clip(t.trial, x1 - x0, 13, { bold: true, middle: true })}</text>` +
      `<text class="sublabel" x="${r(x0 + nameW + 10)}" y="${y - 14}">${clip(t.detail, x1 - x0 - nameW - 10, 11)}</text>`;
    if (t.mean === null) {
      parts.push(
        `<g class="trial-row no-score" data-trial="${esc(t.trial)}"><title>${esc(t.trial)}: no scores</title>${label}` +
          `<text class="empty" x="${x0 + 6}" y="${y + 4}">no scores</text></g>`,
      );
      return;
    }
    const ciText = t.ci ? `${pct(t.ci.low)} – ${pct(t.ci.high)}` : "no CI";
    const marks = [
      `<rect class="bar" x="${x0}" y="${y - 7}" width="${r(x(t.mean) - x0)}" height="14" rx="2" fill="${t.color}" data-value="${t.mean}"/>`,
    ];
    if (t.ci) {
      const [lo, hi] = [r(x(t.ci.low)), r(x(t.ci.high))];
      marks.push(
        `<path class="ci" d="M${lo} ${y}H${hi}M${lo} ${y - 6}V${y + 6}M${hi} ${y - 6}V${y + 6}" data-low="${t.ci.low}" data-high="${t.ci.high}"/>`,
      );
    }
    marks.push(`<circle class="mean" cx="${r(x(t.mean))}" cy="${y}" r="3.5"/>`);
    parts.push(
      `<g class="trial-row" data-trial="${esc(t.trial)}" data-value="${t.mean}">` +
        `<title>${esc(t.trial)}: ${pct(t.mean)} (${conf(opts.confidence)} CI ${ciText})</title>${label}${marks.join("")}` +
        `<text class="value" x="${x1 + 16}" y="${y - 2}">${pct(t.mean)}</text>` +
        `<text class="sublabel" x="${x1 + 16}" y="${y + 12}">${ciText}</text></g>`,
    );
  });
  parts.push(
    `<text class="axis-title" x="${r((x0 + x1) / 2)}" y="${height - 6}" text-anchor="middle">mean ${esc(opts.scorer)}, whiskers ${conf(opts.confidence)} CI</text>`,
  );
  return svg("chart-scores", WIDTH, height, `Mean ${esc(opts.scorer)} per trial`, parts);
}

/**
 * Scatter of cost (x, USD) against mean score (y, 0–100 %), one labelled point per trial that
 * has a score, with its CI as a vertical whisker. When no trial cost anything, every point sits at
 * x = 0 and the axis says "no cost recorded".
 */
export function costChart(trials: ChartTrial[], opts: { scorer: string }): string {
  const height = 380;
  const [left, right, top, bottom] = [64, WIDTH - 24, 14, height - 50];
  const scored = trials.filter((t): t is ChartTrial & { mean: number } => t.mean !== null);
  const maxCost = Math.max(0, ...scored.map((t) => (Number.isFinite(t.cost_usd) ? t.cost_usd : 0)));
  const xTicks = maxCost > 0 ? niceTicks(maxCost * 1.08) : [0];
  const xMax = maxCost > 0 ? xTicks[xTicks.length - 1]! : 1;
  const x = (v: number): number => left + 14 + (Math.max(0, v) / xMax) * (right - left - 28);
  const y = (v: number): number => bottom - clamp01(v) * (bottom - top);

  const parts = [0, 0.25, 0.5, 0.75, 1].map(
    (v) =>
      `<line class="grid" x1="${left}" x2="${right}" y1="${r(y(v))}" y2="${r(y(v))}"/>` +
      `<text class="tick" x="${left - 8}" y="${r(y(v) + 4)}" text-anchor="end">${v * 100}%</text>`,
  );
  const step = xTicks.length > 1 ? xTicks[1]! - xTicks[0]! : 1;
  const decimals = Math.max(0, Math.min(8, -Math.floor(Math.log10(step) + 1e-9)));
  for (const v of xTicks) {
    parts.push(
      `<line class="grid" x1="${r(x(v))}" x2="${r(x(v))}" y1="${top}" y2="${bottom}"/>` +
        `<text class="tick" x="${r(x(v))}" y="${bottom + 18}" text-anchor="middle">$${v.toFixed(decimals)}</text>`,
    );
  }
  parts.push(`<line class="axis" x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}"/>`);

  // Points first, then labels on top: each label goes right of its point, or left, nudged
  // vertically until it overlaps no point and no earlier label.
  const points = scored.map((t) => ({ t, px: x(t.cost_usd), py: y(t.mean) }));
  const placed: Box[] = points.map(({ px, py }) => ({ x: px - 7, y: py - 7, w: 14, h: 14 }));
  const labels: string[] = [];
  for (const { t, px, py } of points) {
    const whisker = t.ci
      ? `<line class="ci-v" x1="${r(px)}" x2="${r(px)}" y1="${r(y(t.ci.low))}" y2="${r(y(t.ci.high))}" stroke="${t.color}"/>`
      : "";
    parts.push(
      `<g class="point-group" data-trial="${esc(t.trial)}"><title>${esc(t.trial)}: ${pct(t.mean)}, ${usd(t.cost_usd)}</title>${whisker}` +
        `<circle class="point" cx="${r(px)}" cy="${r(py)}" r="6" fill="${t.color}" data-trial="${esc(t.trial)}" data-cost="${t.cost_usd}" data-value="${t.mean}"/></g>`,
    );
  }
  for (const { t, px, py } of [...points].sort((a, b) => a.py - b.py || a.t.trial.localeCompare(b.t.trial))) {
    const w = Math.min(LABEL_MAX, textWidth(t.trial, 12));
    const bounds = { left, right, top, bottom: bottom - 2 };
    const rightSide = { x: px + 10, y: py - 8, w, h: 16 };
    const leftSide = { ...rightSide, x: px - 10 - w };
    const box = nudge(rightSide, placed, bounds) ?? nudge(leftSide, placed, bounds) ?? rightSide;
    placed.push(box);
    const anchor = box.x < px ? `x="${r(box.x + w)}" text-anchor="end"` : `x="${r(box.x)}"`;
    labels.push(
      `<text class="point-label" ${anchor} y="${r(box.y + 12)}" data-trial="${esc(t.trial)}">${clip(t.trial, LABEL_MAX, 12, { middle: true })}</text>`,
    );
  }
  parts.push(...labels);
  parts.push(
    `<text class="axis-title" x="${r((left + right) / 2)}" y="${height - 8}" text-anchor="middle">${maxCost === 0 ? "cost (USD): no cost recorded, every trial at $0" : "cost (USD)"}</text>`,
    `<text class="axis-title" transform="translate(16 ${r((top + bottom) / 2)}) rotate(-90)" text-anchor="middle">mean ${esc(opts.scorer)}</text>`,
  );
  return svg("chart-cost", WIDTH, height, `Cost against mean ${esc(opts.scorer)}`, parts);
}

/** Per-category means: rows are trials, columns categories, cells coloured 0–100 % and labelled. */
export function categoryHeatmap(
  rows: { trial: string; cells: Record<string, { n: number; mean: number | null }> }[],
  categories: string[],
): string {
  const headerW = Math.max(0, ...categories.map((c) => Math.min(180, textWidth(c, 12))));
  const rotate = headerW + 22 > 110;
  const cellW = rotate ? 66 : Math.max(66, headerW + 22);
  const roomForLabels = Math.max(260, WIDTH - 34 - categories.length * cellW);
  const labelW = Math.ceil(
    Math.min(roomForLabels, Math.max(90, ...rows.map((row) => textWidth(row.trial, 13, true)))),
  );
  const headerH = rotate ? Math.ceil(headerW * 0.643) + 24 : 28;
  const cellH = 32;
  const x0 = labelW + 22;
  const width = Math.ceil(x0 + Math.max(480, categories.length * cellW + (rotate ? headerW * 0.77 : 20)));
  const legendY = headerH + rows.length * cellH + 24;
  const height = legendY + 40;

  const parts = categories.map((c, j) => {
    const cx = x0 + j * cellW + cellW / 2;
    return rotate
      ? `<text class="col-label" transform="translate(${r(cx - 4)} ${headerH - 8}) rotate(-40)">${clip(c, 180, 12)}</text>`
      : `<text class="col-label" x="${r(cx)}" y="${headerH - 10}" text-anchor="middle">${clip(c, cellW, 12)}</text>`;
  });
  rows.forEach((row, i) => {
    const y = headerH + i * cellH;
    parts.push(
      `<text class="label" x="${labelW + 8}" y="${y + cellH / 2 + 4}" text-anchor="end">${clip(row.trial, labelW, 13, { bold: true, middle: true })}</text>`,
    );
    categories.forEach((c, j) => {
      const cell = row.cells[c];
      const mean = cell?.mean ?? null;
      const [cx, attrs] = [x0 + j * cellW, `data-trial="${esc(row.trial)}" data-category="${esc(c)}"`];
      const rect = `x="${cx + 1}" y="${y + 1}" width="${cellW - 2}" height="${cellH - 2}" rx="3"`;
      const tip = `<title>${esc(row.trial)} · ${esc(c)}: ${pct(mean)}${cell ? ` (n = ${cell.n})` : ""}</title>`;
      parts.push(
        mean === null
          ? `<g>${tip}<rect class="cell empty-cell" ${rect} ${attrs}/><text class="cell-text muted" x="${cx + cellW / 2}" y="${y + cellH / 2 + 4}" text-anchor="middle">–</text></g>`
          : `<g>${tip}<rect class="cell" ${rect} fill="${scoreColor(mean)}" ${attrs} data-value="${mean}"/>` +
              `<text class="cell-text ${textOn(mean)}" x="${cx + cellW / 2}" y="${y + cellH / 2 + 4}" text-anchor="middle">${pct(mean)}</text></g>`,
      );
    });
  });

  const stops = VIRIDIS.map((_, k) => {
    const v = k / (VIRIDIS.length - 1);
    return `<stop offset="${v * 100}%" stop-color="${scoreColor(v)}"/>`;
  }).join("");
  parts.push(
    `<defs><linearGradient id="heatmap-scale">${stops}</linearGradient></defs>`,
    `<text class="tick" x="${x0 - 8}" y="${legendY + 11}" text-anchor="end">0%</text>`,
    `<rect x="${x0}" y="${legendY}" width="200" height="14" rx="2" fill="url(#heatmap-scale)"/>`,
    `<text class="tick" x="${x0 + 208}" y="${legendY + 11}">100%</text>`,
    `<text class="sublabel" x="${x0 + 250}" y="${legendY + 11}">– = no scored items in that category</text>`,
  );
  return svg("chart-categories", width, height, "Mean score per trial and category", parts);
}

/** Fill colour of a score in [0, 1] on the viridis scale. */
export function scoreColor(v: number): string {
  const t = clamp01(v) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t));
  const [a, b] = [VIRIDIS[i]!, VIRIDIS[i + 1]!];
  const mix = (k: 0 | 1 | 2): string =>
    Math.round(a[k] + (b[k] - a[k]) * (t - i))
      .toString(16)
      .padStart(2, "0");
  return `#${mix(0)}${mix(1)}${mix(2)}`;
}

// ---------------------------------------------------------------------------------------------
// internal helpers

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
const WIDTH = 920;
/** Widest label next to a scatter point, px. */
const LABEL_MAX = 300;
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const r = (x: number): number => Math.round(x * 10) / 10;
const clamp01 = (v: number): number => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);
/**
 * Text class for a cell of {@link scoreColor}: "on-dark" (white text) below relative luminance
 * 0.2, where white has the higher WCAG contrast, else "on-light" (dark text).
 */
function textOn(v: number): "on-dark" | "on-light" {
  const hex = scoreColor(v);
  const [red, green, blue] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.2 ? "on-dark" : "on-light";
}

/**
 * Generous estimate of rendered sans-serif width (no font metrics on the server): 0.6 em a
 * character, 0.66 em bold, so estimated labels do not overflow with wide fonts such as DejaVu.
 */
const textWidth = (text: string, size: number, bold = false): number =>
  [...text].length * size * (bold ? 0.66 : 0.6);

/**
 * Escaped text cut with an ellipsis to fit `width` px (the full text stays in the chart's <title>).
 * `middle` keeps both ends — trial names share prefixes and differ in their tails.
 */
function clip(
  text: string,
  width: number,
  size: number,
  opts: { bold?: boolean; middle?: boolean } = {},
): string {
  const chars = [...text];
  const max = Math.max(2, Math.floor(width / (size * (opts.bold ? 0.66 : 0.6))));
  if (chars.length <= max) return esc(text);
  const head = opts.middle ? Math.ceil((max - 1) * 0.45) : max - 1;
  const tail = max - 1 - head;
  return esc(`${chars.slice(0, head).join("")}…${tail > 0 ? chars.slice(-tail).join("") : ""}`);
}

/**
 * The label box moved the least (down or up, in 4 px steps) so that it overlaps no placed box and
 * stays inside the plot; null when there is no such place.
 */
function nudge(
  box: Box,
  placed: Box[],
  bounds: { left: number; right: number; top: number; bottom: number },
): Box | null {
  const overlaps = (b: Box): boolean =>
    placed.some((p) => b.x < p.x + p.w && p.x < b.x + b.w && b.y < p.y + p.h && p.y < b.y + b.h);
  if (box.x < bounds.left || box.x + box.w > bounds.right) return null;
  for (let k = 0; k < 12; k++) {
    for (const dy of k === 0 ? [0] : [k * 4, -k * 4]) {
      const candidate = { ...box, y: box.y + dy };
      if (candidate.y >= bounds.top && candidate.y + candidate.h <= bounds.bottom && !overlaps(candidate)) {
        return candidate;
      }
    }
  }
  return null;
}

/** Ticks 0, step, 2·step, … covering `max`, with step 1, 2 or 5 × 10ⁿ and at most ~6 ticks. */
function niceTicks(max: number): number[] {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const count = Math.ceil(max / step - 1e-9);
  return Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

function svg(id: string, width: number, height: number, label: string, parts: string[]): string {
  return (
    `<svg id="${id}" class="chart" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}">${parts.join("")}</svg>`
  );
}
