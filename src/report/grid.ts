import type { TrialSummary } from "./summary.js";

const label = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

/** The model entry a sweep trial came from: its id without the ` key=value` suffix. */
export function sweepBase(t: TrialSummary): string {
  const suffix = Object.entries(t.grid ?? {})
    .map(([k, v]) => ` ${k}=${label(v)}`)
    .join("");
  return suffix && t.model.endsWith(suffix) ? t.model.slice(0, -suffix.length) : t.model;
}

/** One sweep table: the first swept parameter across (e.g. `c`), the other(s) down (e.g. `k`). */
export interface GridTable {
  model: string;
  promptSet: string;
  /** The corner cell (`k \ c`) and one header per column (`c=0`). */
  corner: string;
  columns: string[];
  /** Row label (`k=8`) and the trial of each column (undefined where none ran). */
  rows: { label: string; cells: (TrialSummary | undefined)[] }[];
}

/** Swept trials grouped into one table per (model entry, prompt set). */
export function gridTables(trials: TrialSummary[]): GridTable[] {
  const groups = new Map<string, TrialSummary[]>();
  for (const t of trials) {
    if (!t.grid || Object.keys(t.grid).length === 0) continue;
    const key = `${sweepBase(t)}\u0000${t.prompt_set}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  return [...groups].map(([key, group]) => {
    const [model = "", promptSet = ""] = key.split("\u0000");
    const axes = Object.keys(group[0]?.grid ?? {});
    const [across, ...down] = axes as [string, ...string[]];
    const columns = [...new Set(group.map((t) => label(t.grid?.[across])))];
    const rowKey = (t: TrialSummary) => down.map((k) => `${k}=${label(t.grid?.[k])}`).join(" ");
    const rows = [...new Set(group.map(rowKey))];
    return {
      model,
      promptSet,
      corner: down.length > 0 ? `${down.join(", ")} \\ ${across}` : across,
      columns: columns.map((c) => `${across}=${c}`),
      rows: rows.map((r) => ({
        label: r || "–",
        cells: columns.map((c) => group.find((x) => rowKey(x) === r && label(x.grid?.[across]) === c)),
      })),
    };
  });
}

/**
 * Markdown tables of swept trials: one per (model entry, prompt set), each cell the primary score
 * with its CI.
 */
export function renderGridTables(
  trials: TrialSummary[],
  cell: (t: TrialSummary) => string,
  table: (header: string[], rows: (string | number)[][]) => string,
): string[] {
  const lines: string[] = [];
  for (const g of gridTables(trials)) {
    lines.push(
      "",
      `### \`${g.model}\` · ${g.promptSet}`,
      "",
      table(
        [g.corner, ...g.columns],
        g.rows.map((r) => [r.label, ...r.cells.map((t) => (t ? cell(t) : "–"))]),
      ),
    );
  }
  return lines.length > 0 ? ["", "## Sweeps", ...lines] : [];
}
