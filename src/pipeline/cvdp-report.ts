import { existsSync } from "node:fs";
import { executionSchema, promptRecordSchema, readJsonl, scoreSchema } from "../core/index.js";
import { passAtK } from "../stats/index.js";
import { latestRows, type TrialFiles } from "./files.js";

/**
 * A cvdp trial in NVIDIA CVDP's report shapes: `report.json` of one sample as CVDP's `report.py`
 * writes it (per category and difficulty: tests and problems passed, logs, metadata, test details),
 * and a summary with the category × difficulty table over every sample, the unbiased pass@k and,
 * labelled as such, CVDP's own formula 1 − (1 − c/n)^k (biased; for comparison with published
 * numbers). Problems that could not be scored here (skipped: a commercial simulator; unavailable:
 * no LLM judge) are left out of every count and listed with their reasons.
 */

const difficulties = ["easy", "medium", "hard"] as const;

interface Cell {
  "Passed Tests": number;
  "Failed Tests": number;
  "Total Tests": number;
  "Passed Tests (%)": number;
  "Passed Problems": number;
  "Failed Problems": number;
  "Total Problems": number;
  "Passed Problems (%)": number;
}

interface Outcome {
  id: string;
  sample: number;
  cid: string;
  difficulty: string;
  /** Tests as CVDP counts them: harness services, or ROUGE + BLEU for comprehension. */
  tests: { passed: boolean; log: string }[];
  /** The problem's pass (fractional for BLEU scoring, as CVDP's score mode). */
  value: number;
  passed: boolean;
  leftOut?: { status: string; reason: string };
}

export interface CvdpReports {
  /** CVDP's report.json for `sample`. */
  report: Record<string, unknown>;
  summary: {
    samples: number;
    table: {
      category: string;
      difficulty: string;
      problems: number;
      passed_problems: number;
      tests: number;
      passed_tests: number;
    }[];
    pass_at_k: { k: number; unbiased: number; cvdp_formula_biased: number; n_problems: number }[];
    left_out: { id: string; sample: number; status: string; reason: string }[];
  };
}

export async function buildCvdpReports(
  files: TrialFiles,
  meta: { dataset: string; model: string },
  sample = 0,
): Promise<CvdpReports> {
  const categories = new Map<string, { cid: string; difficulty: string }>();
  if (existsSync(files.prompts))
    for await (const p of latestRowsById(files.prompts)) {
      const m = p.metadata as { cid?: string; difficulty?: string } | undefined;
      if (m?.cid && m.difficulty) categories.set(p.id, { cid: m.cid, difficulty: m.difficulty });
    }
  const executions = new Map<
    string,
    { steps: { name: string; exit_code: number | null; timed_out: boolean }[] }
  >();
  if (existsSync(files.executions))
    for await (const e of latestRows(files.executions, executionSchema))
      executions.set(`${e.id}\u0000${e.sample}`, e);
  const outcomes: Outcome[] = [];
  if (existsSync(files.scores))
    for await (const s of latestRows(files.scores, scoreSchema, {})) {
      if (s.scorer !== "cvdp") continue;
      const c = categories.get(s.id);
      if (!c) continue;
      const detail = (s.detail ?? {}) as {
        dropped?: boolean;
        status?: string;
        reason?: string;
        bleu_2?: number;
        rouge_2?: number | null;
      };
      const e = executions.get(`${s.id}\u0000${s.sample}`);
      const tests =
        detail.bleu_2 !== undefined
          ? ["rouge", "bleu"].map((t) => ({ passed: s.passed, log: `${s.id}/${t}` }))
          : (e?.steps ?? []).map((st) => ({
              passed: st.exit_code === 0 && !st.timed_out,
              log: `${s.id}/${st.name}`,
            }));
      if (tests.length === 0 && !detail.dropped) tests.push({ passed: s.passed, log: `${s.id}/result` });
      outcomes.push({
        id: s.id,
        sample: s.sample,
        ...c,
        tests,
        value: s.value,
        passed: s.passed,
        ...(detail.dropped
          ? { leftOut: { status: detail.status ?? "left out", reason: detail.reason ?? "" } }
          : {}),
      });
    }
  const scored = outcomes.filter((o) => !o.leftOut);
  return {
    report: reportJson(
      scored.filter((o) => o.sample === sample),
      outcomes.filter((o) => o.leftOut && o.sample === sample),
      meta,
    ),
    summary: {
      samples: Math.max(0, ...outcomes.map((o) => o.sample + 1)),
      table: table(scored),
      pass_at_k: passAtKRows(scored),
      left_out: outcomes
        .filter((o) => o.leftOut)
        .map((o) => ({ id: o.id, sample: o.sample, status: o.leftOut!.status, reason: o.leftOut!.reason })),
    },
  };
}

/** The table as markdown: category × difficulty, problems and tests passed. */
export function cvdpMarkdown(summary: CvdpReports["summary"]): string {
  const lines = [
    "| category | difficulty | problems passed | tests passed |",
    "| --- | --- | --- | --- |",
    ...summary.table.map(
      (r) =>
        `| ${r.category} | ${r.difficulty} | ${round(r.passed_problems)}/${r.problems} | ${r.passed_tests}/${r.tests} |`,
    ),
    "",
    "| k | pass@k (unbiased) | CVDP formula 1-(1-c/n)^k (biased, for comparison) | problems |",
    "| --- | --- | --- | --- |",
    ...summary.pass_at_k.map(
      (p) => `| ${p.k} | ${p.unbiased.toFixed(4)} | ${p.cvdp_formula_biased.toFixed(4)} | ${p.n_problems} |`,
    ),
  ];
  if (summary.left_out.length > 0) {
    lines.push("", `Left out (${summary.left_out.length}, not counted as passed or failed):`);
    for (const l of summary.left_out) lines.push(`- ${l.id} (sample ${l.sample}): ${l.status}: ${l.reason}`);
  }
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------- internal helpers

/** Prompt rows by id, the last row of an id winning. */
async function* latestRowsById(path: string): AsyncGenerator<{ id: string; metadata?: unknown }> {
  const rows = new Map<string, { id: string; metadata?: unknown }>();
  for await (const { value } of readJsonl(path, { schema: promptRecordSchema })) rows.set(value.id, value);
  yield* rows.values();
}

function emptyCell(): Cell {
  return {
    "Passed Tests": 0,
    "Failed Tests": 0,
    "Total Tests": 0,
    "Passed Tests (%)": 0,
    "Passed Problems": 0,
    "Failed Problems": 0,
    "Total Problems": 0,
    "Passed Problems (%)": 0,
  };
}

function reportJson(
  outcomes: Outcome[],
  leftOut: Outcome[],
  meta: { dataset: string; model: string },
): Record<string, unknown> {
  const report: Record<string, unknown> = {};
  const failing: unknown[] = [];
  const passing: unknown[] = [];
  for (const o of outcomes) {
    if (report[o.cid] === undefined)
      report[o.cid] = { easy: emptyCell(), medium: emptyCell(), hard: emptyCell(), logs: [] };
    const category = report[o.cid] as Record<string, Cell> & { logs: { id: string; log: string }[] };
    const cell = category[o.difficulty] as Cell;
    for (const [i, t] of o.tests.entries()) {
      cell[t.passed ? "Passed Tests" : "Failed Tests"]++;
      cell["Total Tests"]++;
      (t.passed ? passing : failing).push({
        test_id: o.id,
        category: o.cid,
        difficulty: o.difficulty,
        test_index: i,
        log: t.log,
      });
      category.logs.push({ id: o.id, log: t.log });
    }
    cell["Passed Tests (%)"] = cell["Total Tests"] ? (cell["Passed Tests"] / cell["Total Tests"]) * 100 : 0;
    cell["Total Problems"]++;
    cell["Passed Problems"] += o.value;
    cell["Failed Problems"] += 1 - o.value;
    cell["Passed Problems (%)"] = (cell["Passed Problems"] / cell["Total Problems"]) * 100;
  }
  report.metadata = {
    dataset_path: meta.dataset,
    timestamp: new Date().toISOString().replace("T", " ").slice(0, 19),
    golden_mode: meta.model === "gold",
    disable_patch: false,
    model_agent: meta.model,
    force_agentic: false,
    force_agentic_include_golden: false,
    force_agentic_include_harness: false,
    force_copilot: true,
    copilot_refine: null,
  };
  report.test_details = { failing_tests: failing, passing_tests: passing };
  report.left_out = leftOut.map((o) => ({ id: o.id, ...o.leftOut }));
  return report;
}

function table(outcomes: Outcome[]): CvdpReports["summary"]["table"] {
  const rows = new Map<string, CvdpReports["summary"]["table"][number]>();
  for (const o of outcomes) {
    const key = `${o.cid}\u0000${o.difficulty}`;
    const row = rows.get(key) ?? {
      category: o.cid,
      difficulty: o.difficulty,
      problems: 0,
      passed_problems: 0,
      tests: 0,
      passed_tests: 0,
    };
    row.problems++;
    row.passed_problems += o.value;
    row.tests += o.tests.length;
    row.passed_tests += o.tests.filter((t) => t.passed).length;
    rows.set(key, row);
  }
  const order = (d: string) => difficulties.indexOf(d as (typeof difficulties)[number]);
  return [...rows.values()].sort((a, b) =>
    a.category === b.category ? order(a.difficulty) - order(b.difficulty) : a.category < b.category ? -1 : 1,
  );
}

function passAtKRows(outcomes: Outcome[]): CvdpReports["summary"]["pass_at_k"] {
  const perProblem = new Map<string, { n: number; c: number }>();
  for (const o of outcomes) {
    const p = perProblem.get(o.id) ?? { n: 0, c: 0 };
    p.n++;
    if (o.passed) p.c++;
    perProblem.set(o.id, p);
  }
  const problems = [...perProblem.values()];
  if (problems.length === 0) return [];
  const n = Math.min(...problems.map((p) => p.n));
  const ks = [1, 5, 10, 100].filter((k) => k <= n);
  return ks.map((k) => ({
    k,
    unbiased: mean(problems.map((p) => passAtK(p.n, p.c, k))),
    cvdp_formula_biased: mean(problems.map((p) => 1 - (1 - p.c / p.n) ** k)),
    n_problems: problems.length,
  }));
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function round(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}
