/**
 * The inline stylesheet and script of report.html (see html.ts). Chart text is styled here by
 * class, so svg.ts emits only geometry and colours that carry data.
 */
/** Click (or Enter on) a header of a `table.sortable` to sort by that column; cells sort by `data-sort`. */
export const SORT_SCRIPT = `
for (const table of document.querySelectorAll("table.sortable")) {
  const heads = [...table.tHead.rows[0].cells];
  heads.forEach((th, col) => {
    th.tabIndex = 0;
    th.title = "sort";
    const sort = () => {
      const dir = th.dataset.dir === "asc" ? "desc" : "asc";
      for (const h of heads) delete h.dataset.dir;
      th.dataset.dir = dir;
      const key = (row) => row.cells[col].dataset.sort ?? row.cells[col].textContent;
      const rows = [...table.tBodies[0].rows].sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        const c = isNaN(x) || isNaN(y) ? String(x).localeCompare(String(y)) : x - y;
        return dir === "asc" ? c : -c;
      });
      table.tBodies[0].append(...rows);
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (e) => { if (e.key === "Enter") sort(); });
  });
}`;

export const CSS = `
:root { --fg: #1f2328; --muted: #656d76; --line: #d8dee4; --bg-soft: #f6f8fa; --accent: #4e79a7; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header, main, footer { max-width: 1000px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; }
.kicker { margin: 0; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .08em; }
h1 { margin: 4px 0 12px; font-size: 26px; line-height: 1.25; overflow-wrap: anywhere; }
h2 { margin: 0 0 6px; font-size: 18px; }
.meta { display: flex; flex-wrap: wrap; gap: 6px 24px; margin: 0 0 18px; }
.meta div { display: flex; gap: 6px; align-items: baseline; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; background: var(--bg-soft); padding: 1px 5px; border-radius: 4px; overflow-wrap: break-word; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; margin-bottom: 18px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card-label { color: var(--muted); font-size: 12px; }
.card-value { font-size: 22px; font-weight: 700; font-variant-numeric: tabular-nums; }
.card-sub { color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
nav { display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 10px 0; border-bottom: 1px solid var(--line); }
nav a { color: var(--accent); text-decoration: none; font-size: 13px; }
nav a:hover { text-decoration: underline; }
section { padding: 26px 0 8px; }
.note { margin: 0 0 12px; color: var(--muted); }
.figure { overflow-x: auto; }
.chart { display: block; max-width: 100%; height: auto; }
#chart-categories { max-width: none; } /* many categories scroll rather than shrink */
.chart text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; font-size: 12px; fill: var(--fg); }
.chart .label { font-size: 13px; font-weight: 600; }
.chart .label, .chart .point-label { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.chart .sublabel, .chart .tick { font-size: 11px; fill: var(--muted); }
.chart .axis-title { fill: var(--muted); }
.chart .value { font-size: 13px; font-weight: 700; }
.chart .empty, .chart .note { font-style: italic; fill: #8c959f; }
.chart .grid { stroke: #eaeef2; }
.chart .axis { stroke: #afb8c1; }
.chart .ci { stroke: var(--fg); stroke-width: 1.6; fill: none; }
.chart .mean { fill: #fff; stroke: var(--fg); stroke-width: 1.5; }
.chart .ci-v { stroke-width: 2.5; stroke-linecap: round; opacity: .45; }
.chart .point { stroke: #fff; stroke-width: 1.5; }
.chart .cell-text { font-weight: 600; }
.chart .cell-text.on-dark { fill: #fff; }
.chart .cell-text.muted { fill: #8c959f; }
.chart .empty-cell { fill: var(--bg-soft); stroke: var(--line); }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: baseline; }
thead th { font-size: 12px; color: var(--muted); font-weight: 600; border-bottom: 2px solid var(--line); cursor: pointer; user-select: none; white-space: nowrap; }
thead th[data-dir="asc"]::after { content: " ▲"; }
thead th[data-dir="desc"]::after { content: " ▼"; }
tbody tr:hover { background: var(--bg-soft); }
tfoot th, tfoot td { font-weight: 700; border-bottom: 0; }
td.num { text-align: right; white-space: nowrap; }
td.pair { min-width: 28ch; }
td.name, .pair .name { font-weight: 600; overflow-wrap: break-word; min-width: 12ch; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
.ci-text, .muted { color: var(--muted); }
tr.significant { background: #fff8e6; }
.diff.pos { color: #1a7f37; font-weight: 700; }
.diff.neg { color: #cf222e; font-weight: 700; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; background: #f28e2b; color: #fff; font-size: 12px; font-weight: 600; }
footer { margin-top: 24px; padding-top: 12px; padding-bottom: 28px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
@media print { nav { display: none; } section { break-inside: avoid; } }
`;
