/**
 * What the viewer's pages show, read from a run directory: experiments, an experiment's trials
 * (their summary.json when the report phase has written it, live progress from the index while it
 * runs), comparisons and costs, and single samples read by byte offset. Nothing here reads a whole
 * JSONL file; long strings in a sample are cut to a size a browser renders at once.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CSS } from "../report/html-style.js";
import type { TrialSummary } from "../report/index.js";
import { type ChartTrial, categoryHeatmap, costChart, scoreChart, trialColor } from "../report/svg.js";
import { PathError, resolveInside } from "./paths.js";
import { type FileKind, type IndexParts, type Progress, TrialIndex } from "./trial-index.js";
import { runInWorker } from "./worker-jobs.js";

/** Unindexed bytes from which a trial's first index is built in a worker thread. */
const WORKER_BUILD_BYTES = 32 << 20;

/** A trial's index built from its files by two worker threads, one for prompts.jsonl. */
export async function buildInWorkers(dir: string, primary: string | null): Promise<TrialIndex> {
  const build = async (kinds: FileKind[]): Promise<TrialIndex> => {
    let parts: IndexParts | undefined;
    await runInWorker({ type: "build", dir, primary, kinds }, (m) => {
      if (m.type === "built") parts = m.parts;
    });
    if (!parts) throw new Error("viewer worker sent no index");
    return TrialIndex.fromParts(dir, parts);
  };
  const [rows, prompts] = await Promise.all([
    build(["predictions", "executions", "scores"]),
    build(["prompts"]),
  ]);
  rows.absorbPrompts(prompts);
  return rows;
}

/** Characters of one string field sent to the browser; the rest is in the raw file. */
export const MAX_FIELD = 200_000;

interface ExperimentManifest {
  name?: string;
  task?: { name?: string };
  dataset?: { path?: string; rows?: number };
  samples?: number | null;
  limit?: number | null;
  scorers?: string[];
  stats?: { alpha?: number; confidence?: number };
  trials?: { name: string; model?: string; prompt_set?: string }[];
}

export class RunData {
  private readonly indexes = new Map<string, TrialIndex>();
  /** Trials whose index a worker thread is building: requests for them wait for it. */
  private readonly builds = new Map<string, Promise<TrialIndex>>();

  constructor(
    readonly root: string,
    private readonly alive?: HolderAlive,
  ) {}

  /** Whether an experiment directory's run is going on, was interrupted, or neither. */
  state(dir: string): RunState {
    return runState(dir, this.alive);
  }

  experiments(): {
    name: string;
    task: string | null;
    trials: number;
    running: boolean;
    interrupted: boolean;
    report: boolean;
    modified: string;
  }[] {
    if (!existsSync(this.root)) return [];
    const out = [];
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
      const dir = join(this.root, entry.name);
      const manifest = readJsonQuiet<ExperimentManifest>(join(dir, "experiment.json"));
      if (!manifest) continue;
      const state = this.state(dir);
      out.push({
        name: entry.name,
        task: manifest.task?.name ?? null,
        trials: manifest.trials?.length ?? 0,
        running: state === "running",
        interrupted: state === "interrupted",
        report: existsSync(join(dir, "report.md")),
        modified: statSync(join(dir, "experiment.json")).mtime.toISOString(),
      });
    }
    return out.sort((a, b) => (a.modified < b.modified ? 1 : -1));
  }

  experimentDir(name: string): string {
    const dir = resolveInside(this.root, [name], "dir");
    if (!existsSync(join(dir, "experiment.json"))) throw new PathError(404, "not an experiment");
    return dir;
  }

  trialDir(experiment: string, trial: string): string {
    const dir = resolveInside(this.root, [experiment, trial], "dir");
    if (!existsSync(join(dir, "trial.json"))) throw new PathError(404, "not a trial");
    return dir;
  }

  /** The trial's index, brought up to date with the files. */
  async index(experiment: string, trial: string): Promise<TrialIndex> {
    const dir = this.trialDir(experiment, trial);
    const spec = readJsonQuiet<{ spec?: { scorers?: { name?: string }[] } }>(join(dir, "trial.json"));
    const primary = spec?.spec?.scorers?.[0]?.name ?? null;
    const pending = this.builds.get(dir);
    let index = pending ? await pending : undefined;
    if (!index) {
      index = this.indexes.get(dir) ?? TrialIndex.open(dir, primary);
      this.indexes.set(dir, index);
    }
    if (index.rows === 0 && index.unreadBytes() >= WORKER_BUILD_BYTES) {
      // A large index from nothing is built by two worker threads at once (prompts.jsonl, the
      // largest file, and the others); this thread answers other requests meanwhile, joins the
      // two, and saves the result after the waiting requests are answered.
      const empty = index;
      const build = buildInWorkers(dir, primary)
        .then(
          (built) => {
            setImmediate(() => built.save());
            return built;
          },
          () => empty,
        )
        .then((built) => {
          this.indexes.set(dir, built);
          return built;
        })
        .finally(() => this.builds.delete(dir));
      this.builds.set(dir, build);
      index = await build;
    }
    if (await index.update()) index.saveIfDue(30_000);
    return index;
  }

  /** Saves every index that changed since its last save (on shutdown). */
  saveAll(): void {
    for (const index of this.indexes.values()) index.save();
  }

  async experiment(name: string): Promise<{
    name: string;
    task: string | null;
    dataset: string | null;
    samples: number | null;
    running: boolean;
    interrupted: boolean;
    primary_scorer: string | null;
    alpha: number;
    trials: {
      name: string;
      model: string | null;
      prompt_set: string | null;
      summary: TrialSummary | null;
      progress: Progress | null;
      expected: number | null;
    }[];
    comparison: unknown;
    costs: unknown;
  }> {
    const dir = this.experimentDir(name);
    const state = this.state(dir);
    const manifest = readJsonQuiet<ExperimentManifest>(join(dir, "experiment.json")) ?? {};
    const trials = [];
    for (const t of manifest.trials ?? []) {
      let summary: TrialSummary | null = null;
      let progress: Progress | null = null;
      try {
        const tdir = this.trialDir(name, t.name);
        summary = readJsonQuiet<TrialSummary>(join(tdir, "summary.json"));
        progress = (await this.index(name, t.name)).progress();
      } catch {
        // a trial listed before its directory exists: shown without data
      }
      const items = manifest.limit ?? manifest.dataset?.rows ?? null;
      trials.push({
        name: t.name,
        model: t.model ?? null,
        prompt_set: t.prompt_set ?? null,
        summary,
        progress,
        expected:
          items !== null && manifest.dataset?.rows
            ? Math.min(items, manifest.dataset.rows) * (manifest.samples ?? 1)
            : null,
      });
    }
    return {
      name,
      task: manifest.task?.name ?? null,
      dataset: manifest.dataset?.path ?? null,
      samples: manifest.samples ?? null,
      running: state === "running",
      interrupted: state === "interrupted",
      primary_scorer: trials.find((t) => t.summary)?.summary?.primary_scorer ?? manifest.scorers?.[0] ?? null,
      alpha: manifest.stats?.alpha ?? 0.05,
      trials,
      comparison: readJsonQuiet(join(dir, "comparison.json")),
      costs: readJsonQuiet(join(dir, "costs.json")),
    };
  }

  /** One of report.html's charts as a standalone SVG document (served as an image). */
  async chart(name: string, chart: string): Promise<string> {
    const data = await this.experiment(name);
    const summaries = data.trials.flatMap((t) => (t.summary ? [t.summary] : []));
    const confidence = summaries.find((s) => s.mean_ci)?.mean_ci?.confidence ?? 0.95;
    const scorer = data.primary_scorer ?? "score";
    const chartTrials: ChartTrial[] = summaries.map((t, i) => ({
      trial: t.trial,
      detail: `${t.model} · ${t.prompt_set}`,
      color: trialColor(i),
      mean: t.mean_score,
      ci: t.mean_ci,
      cost_usd: t.usage.cost_usd,
    }));
    let svg: string;
    if (chart === "scores") svg = scoreChart(chartTrials, { scorer, confidence });
    else if (chart === "cost") svg = costChart(chartTrials, { scorer });
    else if (chart === "categories") {
      const categories = [...new Set(summaries.flatMap((t) => Object.keys(t.per_category)))].sort();
      svg = categoryHeatmap(
        summaries.map((t) => ({ trial: t.trial, cells: t.per_category })),
        categories,
      );
    } else throw new PathError(404, "no such chart");
    // Standalone: the namespace, and report.html's stylesheet (its chart rules and colours).
    return svg
      .replace(/^<svg /, `<svg xmlns="http://www.w3.org/2000/svg" `)
      .replace(/>/, `><style>${CSS}</style>`);
  }

  /** Everything about one `(id, sample)` of a trial, from the lines the index points at. */
  async sample(
    experiment: string,
    trial: string,
    id: string,
    sample: number,
  ): Promise<Record<string, unknown>> {
    const index = await this.index(experiment, trial);
    const r = index.find(id, sample);
    if (r < 0) throw new PathError(404, "no such sample");
    const at = index.locate(r);
    const line = (kind: FileKind, where: [number, number] | null): unknown => {
      if (!where) return null;
      const text = index.read(kind, where[0], where[1]).toString("utf8");
      try {
        return capStrings(JSON.parse(text));
      } catch {
        return { unreadable: capStrings(text) };
      }
    };
    const samples: number[] = [];
    for (let s = 0; s < 1000; s++) {
      if (index.find(id, s) >= 0) samples.push(s);
      else if (s > 0) break;
    }
    return {
      ref: index.ref(r),
      samples,
      primary_scorer: index.primary,
      prompt: line("prompts", at.prompt),
      prediction: line("predictions", at.prediction),
      execution: line("executions", at.execution),
      scores: at.scores.map((s) => line("scores", s)),
    };
  }

  /**
   * Items whose primary-scorer outcome differs between two trials of an experiment (sample 0 …,
   * every shared `(id, sample)`), a page at a time.
   */
  async disagreements(
    experiment: string,
    a: string,
    b: string,
    offset: number,
    limit: number,
  ): Promise<{
    total: number;
    shared: number;
    rows: { id: string; sample: number; a: unknown; b: unknown }[];
  }> {
    const ia = await this.index(experiment, a);
    const ib = await this.index(experiment, b);
    const rows = [];
    let total = 0;
    let shared = 0;
    for (let r = 0; r < ia.rows; r++) {
      const ra = ia.ref(r);
      const rb = ib.find(ra.id, ra.sample);
      if (rb < 0) continue;
      shared++;
      const refB = ib.ref(rb);
      if (ra.status === refB.status && ra.score === refB.score) continue;
      if (total >= offset && rows.length < limit) rows.push({ id: ra.id, sample: ra.sample, a: ra, b: refB });
      total++;
    }
    return { total, shared, rows };
  }

  /** Sizes of an experiment's trial files: a cheap fingerprint the live updates compare. */
  fingerprint(experiment: string): string {
    const dir = this.experimentDir(experiment);
    const parts: string[] = [this.state(dir)];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
      for (const kind of ["prompts", "predictions", "executions", "scores"]) {
        const path = join(dir, entry.name, `${kind}.jsonl`);
        parts.push(existsSync(path) ? String(statSync(path).size) : "-");
      }
      const summary = join(dir, entry.name, "summary.json");
      parts.push(existsSync(summary) ? String(statSync(summary).mtimeMs) : "-");
    }
    return parts.join(",");
  }
}

// ---- internal helpers ----

/**
 * Whether a lock holder (the parsed content of a `.locks/*.json` file) is still alive. The CLI
 * passes pipeline/lock.ts's `ownerAlive`; the viewer itself may not import pipeline/.
 */
export type HolderAlive = (owner: unknown) => boolean;

/** What an experiment's locks say: a live holder (`running`), only dead ones (`interrupted`), none. */
export type RunState = "running" | "interrupted" | "idle";

/**
 * An experiment is running while a live process holds one of its locks (pipeline/lock.ts). A lock
 * file left by a process that died (kill -9, a crash, a reboot) means the run was interrupted; the
 * file stays until the next run takes the lock over. An unreadable lock file (being written) counts
 * as a live holder. Without `alive`, every lock file counts as live.
 */
export function runState(dir: string, alive?: HolderAlive): RunState {
  const locks = join(dir, ".locks");
  if (!existsSync(locks)) return "idle";
  let dead = false;
  for (const name of readdirSync(locks)) {
    if (!name.endsWith(".json")) continue;
    if (!alive) return "running";
    let owner: unknown;
    try {
      owner = JSON.parse(readFileSync(join(locks, name), "utf8"));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue; // released meanwhile
      return "running";
    }
    if (alive(owner)) return "running";
    dead = true;
  }
  return dead ? "interrupted" : "idle";
}

function readJsonQuiet<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return null;
  }
}

/** Strings longer than {@link MAX_FIELD} cut, saying how much was left out. */
export function capStrings(value: unknown): unknown {
  if (typeof value === "string")
    return value.length <= MAX_FIELD
      ? value
      : `${value.slice(0, MAX_FIELD)}\n… [${value.length - MAX_FIELD} more characters not shown]`;
  if (Array.isArray(value)) return value.map(capStrings);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, capStrings(v)]));
  return value;
}
