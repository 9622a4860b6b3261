import { viewerClient } from "./client.js";

/** The page every route starts from: no inline script or style (the CSP forbids both). */
export function shellHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>benchline view</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<header class="top"><a href="/" class="brand">benchline view</a></header>
<main id="app"><p class="note">Loading…</p></main>
</body>
</html>
`;
}

/**
 * The browser code: {@link viewerClient}'s own source text, called at once. Run from TypeScript
 * sources (tsx), that text may call esbuild's `__name` helper, defined here as the identity.
 */
export function clientScript(): string {
  return `"use strict";\nvar __name = function (f) { return f; };\n(${viewerClient.toString()})();\n`;
}

export const PAGE_CSS = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-soft: #f6f8fa; --accent: #0969da;
  --pass: #1a7f37; --fail: #cf222e; --err: #9a6700; --base: #ddf4ff; --oracle: #fff1c2; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); }
header.top { padding: 8px 20px; border-bottom: 1px solid var(--line); background: var(--bg-soft); }
.brand { font-weight: 700; color: var(--fg); text-decoration: none; }
main { padding: 12px 20px 40px; max-width: 1400px; }
a { color: var(--accent); }
h1 { font-size: 22px; margin: 10px 0; overflow-wrap: anywhere; }
h2 { font-size: 17px; margin: 22px 0 8px; }
h3 { font-size: 14px; margin: 12px 0 4px; }
.note { color: var(--muted); }
.crumbs { font-size: 13px; color: var(--muted); overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 9px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; max-width: 40em; overflow-wrap: anywhere; }
th { background: var(--bg-soft); font-weight: 600; }
a.sort { color: var(--fg); text-decoration: none; } a.sort.active { color: var(--accent); }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; border: 1px solid var(--line); }
.badge.passed, .badge.finished { color: var(--pass); border-color: var(--pass); }
.badge.failed { color: var(--fail); border-color: var(--fail); }
.badge.error, .badge.incomplete, .badge.interrupted { color: var(--err); border-color: var(--err); }
.badge.running { color: #fff; background: var(--accent); border-color: var(--accent); }
.badge.significant { color: #fff; background: var(--fail); border-color: var(--fail); }
.filters { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 10px 0; }
.filters input[type=search] { min-width: 18em; }
.filters input[type=number] { width: 7em; }
.pager { display: flex; gap: 12px; align-items: center; margin: 10px 0; }
pre.text { white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; max-height: 60vh; overflow: auto;
  background: var(--bg-soft); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 4px 0;
  font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.message .role { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; }
.diff .add { background: #dafbe1; } .diff .del { background: #ffebe9; } .diff .hunk { color: #8250df; }
.seg-base { background: var(--base); } .seg-oracle { background: var(--oracle); outline: 1px solid #d4a72c; }
.legend .seg { padding: 0 6px; border-radius: 3px; }
.step { border-left: 3px solid var(--line); padding-left: 10px; margin: 10px 0; }
.label { font-size: 12px; color: var(--muted); }
.error, .warning { color: var(--fail); }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.charts img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.side { min-width: 0; }
`;
