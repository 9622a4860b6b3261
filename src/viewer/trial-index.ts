/**
 * The viewer's per-trial index: for every `(id, sample)` key, where its last prompt, prediction,
 * execution and score rows start in the trial's JSONL files (byte offset + length), and the few
 * fields the samples table filters and sorts on (status, primary score, category, error code).
 *
 * Columns are typed arrays (no object per row); ids are the only strings kept. The index is built
 * incrementally: `update()` reads only the bytes appended since the last call and stops before an
 * unfinished last line (a torn line, or a row being written), so a running trial is followed as it
 * grows. It is saved beside the trial files (`.benchline-view.idx`) and reloaded on the next start;
 * a file that shrank or whose first bytes changed (rewritten, not appended) is indexed again.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { booleanAt, numberAt, stringAt, stringEnd, valueAt } from "./fields.js";
import { IdStore } from "./id-store.js";
import { runInWorker } from "./worker-jobs.js";

export const INDEX_FILE = ".benchline-view.idx";
const FORMAT = 4;
const CHUNK = 8 << 20;
const HEAD = 256;
/** Lines a text search reports per file, at most (a search for "the" does not fill memory). */
export const SEARCH_CAP = 200_000;

export const FILE_KINDS = ["prompts", "predictions", "executions", "scores"] as const;
export type FileKind = (typeof FILE_KINDS)[number];

/** What the samples table shows for a row: `error` (generation or execution), scored, or not yet. */
export const ROW_STATUSES = ["pending", "passed", "failed", "error"] as const;
export type RowStatus = (typeof ROW_STATUSES)[number];

interface FileState {
  /** Bytes indexed: always the end of a complete line. */
  size: number;
  lines: number;
  /** Hash of the first `headLen` bytes seen: a rewritten file is indexed again. */
  head: string;
  headLen: number;
  /** Complete lines that are not JSON rows (line numbers of the first few). */
  bad: number[];
  badCount: number;
}

const COLUMNS = {
  rowItem: Int32Array,
  rowSample: Int32Array,
  predOff: Float64Array,
  predLen: Uint32Array,
  /** 0 none, 1 ok, 2 error. */
  predStatus: Uint8Array,
  execOff: Float64Array,
  execLen: Uint32Array,
  /** 0 none, 1 ok, 2 error. */
  execStatus: Uint8Array,
  /** 0 none, else 1 + index into `codes`. */
  errCode: Uint16Array,
  score: Float32Array,
  /** 0 none, 1 passed, 2 failed. */
  scorePassed: Uint8Array,
  scoreOff: Float64Array,
  scoreLen: Uint32Array,
} as const;
const ITEM_COLUMNS = {
  itemCat: Uint16Array,
  promptOff: Float64Array,
  promptLen: Uint32Array,
  item0Row: Int32Array,
} as const;
type Columns = { -readonly [K in keyof typeof COLUMNS]: InstanceType<(typeof COLUMNS)[K]> };
type ItemColumns = { -readonly [K in keyof typeof ITEM_COLUMNS]: InstanceType<(typeof ITEM_COLUMNS)[K]> };

export interface RowQuery {
  status?: RowStatus | undefined;
  category?: string | undefined;
  error?: string | undefined;
  scoreMin?: number | undefined;
  scoreMax?: number | undefined;
  text?: string | undefined;
  sort?: SortKey | undefined;
  desc?: boolean | undefined;
  offset?: number | undefined;
  limit?: number | undefined;
}
export const SORT_KEYS = ["order", "id", "score", "status", "category", "error"] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** An index as posted between threads (see `exportParts`). */
export interface IndexParts {
  primary: string | null;
  files: Record<FileKind, FileState>;
  rows: number;
  items: number;
  c: Columns;
  it: ItemColumns;
  ids: ReturnType<IdStore["export"]>;
  extraRows: [string, number][];
  otherScores: [string, [number, number]][];
  categories: string[];
  codes: string[];
  cursor: Record<FileKind, number>;
}

/** The counts of `Progress` that are kept with a saved index. */
type SavedProgress = Pick<Progress, "predictions" | "executions" | "scored">;

export interface RowRef {
  row: number;
  id: string;
  sample: number;
  status: RowStatus;
  score: number | null;
  category: string | null;
  error: string | null;
}

export interface Progress {
  items: number;
  rows: number;
  predictions: { ok: number; error: number };
  executions: { ok: number; error: number };
  scored: number;
  badLines: { file: FileKind; count: number; lines: number[] }[];
}

export class TrialIndex {
  readonly dir: string;
  primary: string | null;
  private files: Record<FileKind, FileState>;
  private c: Columns;
  private it: ItemColumns;
  private nRows = 0;
  private nItems = 0;
  /** Item ids as bytes, with their hash table (no string per item). */
  private ids = new IdStore();
  /** Rows of samples other than 0: `item:sample` → row. */
  private extraRows = new Map<string, number>();
  /** Score rows of the other scorers: `row:scorer` → [offset, length]. */
  private otherScores = new Map<string, [number, number]>();
  private categories: string[] = [];
  private categoryIndex = new Map<string, number>();
  private codes: string[] = [];
  private codeIndex = new Map<string, number>();
  /** Bumped by every change; cached query results are keyed by it. */
  version = 0;
  private savedVersion = -1;
  private cache = new Map<string, Int32Array>();
  private searchCache: { key: string; hits: Uint8Array; capped: boolean } | null = null;
  private updating: Promise<boolean> | null = null;
  /** Columns of byte offsets not read yet from the saved index: its open file and where each is. */
  /**
   * A large saved index not read yet: its file, kept open (a newer index saved over it does not
   * matter), where each column and the ids are, and the counts `progress` shows. A page of rows in
   * file order reads its few values from there; anything else reads the whole index first
   * (`loadDeferred`).
   */
  private deferred: {
    fd: number;
    where: Map<string, number>;
    endsAt: number;
    bytesAt: number;
    idsBytes: number;
    idsLoaded: boolean;
    progress: SavedProgress | null;
  } | null = null;

  private constructor(dir: string, primary: string | null) {
    this.dir = dir;
    this.primary = primary;
    this.files = emptyFiles();
    this.c = allocate(COLUMNS, 1024);
    this.it = allocate(ITEM_COLUMNS, 1024);
  }

  /** Opens a trial's index: the saved one if it still matches the files, else a new one (not yet built). */
  static open(dir: string, primary: string | null): TrialIndex {
    const index = new TrialIndex(dir, primary);
    try {
      index.load();
    } catch {
      index.reset();
    }
    return index;
  }

  get rows(): number {
    return this.nRows;
  }

  path(kind: FileKind): string {
    return join(this.dir, `${kind}.jsonl`);
  }

  /** Reads what was appended since the last call (concurrent callers share one pass). True if anything changed. */
  update(): Promise<boolean> {
    this.updating ??= this.doUpdate().finally(() => {
      this.updating = null;
    });
    return this.updating;
  }

  /**
   * Reads what was appended to some of the files only (the build workers: one reads prompts.jsonl
   * while another reads the rest; `absorbPrompts` then joins them).
   */
  indexFiles(kinds: readonly FileKind[]): Promise<boolean> {
    return this.doUpdate(kinds);
  }

  /**
   * Everything the index holds, as typed arrays, and the buffers to transfer (not copy) when it is
   * posted to another thread; `fromParts` there gives the same index.
   */
  exportParts(): { parts: IndexParts; transfer: ArrayBuffer[] } {
    this.loadDeferred();
    const parts: IndexParts = {
      primary: this.primary,
      files: this.files,
      rows: this.nRows,
      items: this.nItems,
      c: this.c,
      it: this.it,
      ids: this.ids.export(),
      extraRows: [...this.extraRows],
      otherScores: [...this.otherScores],
      categories: this.categories,
      codes: this.codes,
      cursor: this.cursor,
    };
    const views = [
      ...Object.values(this.c),
      ...Object.values(this.it),
      parts.ids.bytes,
      parts.ids.ends,
      parts.ids.hashes,
      parts.ids.table,
    ];
    // only buffers a view covers whole (a small Buffer may sit in Node's shared pool: it is copied)
    const transfer = new Set<ArrayBuffer>();
    for (const v of views as ArrayBufferView[])
      if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength && v.buffer instanceof ArrayBuffer)
        transfer.add(v.buffer);
    return { parts, transfer: [...transfer] };
  }

  /** The index `exportParts` gave (in another thread), not yet saved. */
  static fromParts(dir: string, parts: IndexParts): TrialIndex {
    const index = new TrialIndex(dir, parts.primary);
    index.files = parts.files;
    index.nRows = parts.rows;
    index.nItems = parts.items;
    index.c = parts.c;
    index.it = parts.it;
    index.ids = IdStore.imported(parts.ids);
    index.extraRows = new Map(parts.extraRows);
    index.otherScores = new Map(parts.otherScores);
    for (const x of parts.categories) index.intern(x, index.categories, index.categoryIndex);
    for (const x of parts.codes) index.intern(x, index.codes, index.codeIndex);
    index.cursor = parts.cursor;
    index.version++;
    return index;
  }

  /**
   * Takes the prompts of an index that read prompts.jsonl alone (built alongside this one, which
   * read the other files): their items, offsets and categories, and that file's state.
   */
  absorbPrompts(p: TrialIndex): void {
    this.loadDeferred();
    for (let j = 0; j < p.nItems; j++) {
      if (p.it.promptLen[j] === 0) continue;
      const id = p.ids.bytesOf(j);
      const i = this.itemOf(id, 0, id.length, "prompts");
      this.it.promptOff[i] = p.it.promptOff[j]!;
      this.it.promptLen[i] = p.it.promptLen[j]!;
      const cat = p.it.itemCat[j]!;
      this.it.itemCat[i] = cat ? this.intern(p.categories[cat - 1]!, this.categories, this.categoryIndex) : 0;
    }
    this.files.prompts = p.files.prompts;
    this.version++;
    this.cache.clear();
    this.searchCache = null;
  }

  private savedAt = 0;

  /**
   * Saves the index if it changed and the last save is older than `minIntervalMs` (a live run's
   * index is not rewritten on every new row; what is not saved is re-read from the files next time).
   */
  saveIfDue(minIntervalMs: number): boolean {
    if (this.savedVersion === this.version || Date.now() - this.savedAt < minIntervalMs) return false;
    return this.save();
  }

  /** Saves the index beside the trial files if it changed; a read-only directory keeps it in memory. */
  save(): boolean {
    if (this.savedVersion === this.version) return false;
    this.loadDeferred();
    this.savedAt = Date.now();
    const ids = this.ids.parts();
    const header = {
      format: FORMAT,
      primary: this.primary,
      files: this.files,
      rows: this.nRows,
      items: this.nItems,
      // ids after the columns: where each ends (Float64), then their UTF-8 bytes
      idsBytes: ids.bytes.length,
      categories: this.categories,
      codes: this.codes,
      extraRows: [...this.extraRows],
      otherScores: [...this.otherScores],
      progress: this.counts(),
    };
    const parts: Buffer[] = [];
    const head = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeUInt32LE(head.length, 0);
    parts.push(len, head, Buffer.alloc((8 - ((8 + head.length) % 8)) % 8));
    for (const [name, n] of [
      [COLUMNS, this.nRows],
      [ITEM_COLUMNS, this.nItems],
    ] as const) {
      const cols = name === COLUMNS ? this.c : this.it;
      for (const key of Object.keys(name)) {
        const col = (cols as Record<string, ArrayLike<number> & ArrayBufferView>)[key]!;
        const bytes = Buffer.from(col.buffer, col.byteOffset, n * (col as Uint8Array).BYTES_PER_ELEMENT);
        parts.push(bytes, Buffer.alloc((8 - (bytes.length % 8)) % 8));
      }
    }
    parts.push(Buffer.from(ids.ends.buffer, ids.ends.byteOffset, ids.ends.byteLength), ids.bytes);
    const target = join(this.dir, INDEX_FILE);
    const temp = `${target}.${process.pid}.tmp`;
    try {
      // piece by piece: the columns are written from where they are, never copied into one buffer
      const fd = openSync(temp, "w");
      try {
        for (const part of parts) writeSync(fd, part);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, target);
    } catch {
      rmSync(temp, { force: true });
      return false;
    }
    this.savedVersion = this.version;
    return true;
  }

  /** Whether what is in memory is what the index file holds. */
  isSaved(): boolean {
    return this.savedVersion === this.version;
  }

  /** Bytes of the trial files not indexed yet (what an update would read). */
  unreadBytes(): number {
    let n = 0;
    for (const kind of FILE_KINDS) {
      const path = this.path(kind);
      if (existsSync(path)) n += Math.max(0, statSync(path).size - this.files[kind].size);
    }
    return n;
  }

  progress(): Progress {
    const saved = this.deferred?.progress;
    const p: Progress = {
      items: this.nItems,
      rows: this.nRows,
      ...structuredClone(saved ?? this.counts()),
      badLines: [],
    };
    for (const kind of FILE_KINDS) {
      const f = this.files[kind];
      if (f.badCount > 0) p.badLines.push({ file: kind, count: f.badCount, lines: f.bad });
    }
    return p;
  }

  /** What `progress` counts over the rows (saved with the index, so a restart need not read them). */
  private counts(): SavedProgress {
    this.loadDeferred();
    const p: SavedProgress = { predictions: { ok: 0, error: 0 }, executions: { ok: 0, error: 0 }, scored: 0 };
    for (let r = 0; r < this.nRows; r++) {
      const s = this.c.predStatus[r];
      if (s === 1) p.predictions.ok++;
      else if (s === 2) p.predictions.error++;
      const e = this.c.execStatus[r];
      if (e === 1) p.executions.ok++;
      else if (e === 2) p.executions.error++;
      if (this.c.scorePassed[r]) p.scored++;
    }
    return p;
  }

  /** The categories and error codes present (the table's filter choices). */
  facets(): { categories: string[]; errors: string[] } {
    return { categories: [...this.categories].sort(), errors: [...this.codes].sort() };
  }

  status(r: number): RowStatus {
    this.need(STATUS_COLUMNS);
    return this.rowStatus(r);
  }

  /** `status(r)` once its columns are in memory. */
  private rowStatus(r: number): RowStatus {
    if (this.c.predStatus[r] === 2 || this.c.execStatus[r] === 2) return "error";
    const p = this.c.scorePassed[r];
    return p === 1 ? "passed" : p === 2 ? "failed" : "pending";
  }

  ref(r: number): RowRef {
    if (this.deferred) return this.refOnDisk(r);
    const item = this.c.rowItem[r]!;
    const cat = this.it.itemCat[item]!;
    const code = this.c.errCode[r]!;
    return {
      row: r,
      id: this.ids.get(item),
      sample: this.c.rowSample[r]!,
      status: this.status(r),
      score: this.c.scorePassed[r] ? this.c.score[r]! : null,
      category: cat ? this.categories[cat - 1]! : null,
      error: code ? this.codes[code - 1]! : null,
    };
  }

  /** The row of `(id, sample)`, or -1. */
  find(id: string, sample: number): number {
    this.loadDeferred();
    const bytes = Buffer.from(id);
    const item = this.ids.find(bytes, 0, bytes.length);
    if (item < 0) return -1;
    if (sample === 0) return this.it.item0Row[item]!;
    return this.extraRows.get(`${item}:${sample}`) ?? -1;
  }

  /** Where each of a row's lines is: [offset, length] or null. */
  locate(r: number): {
    prompt: [number, number] | null;
    prediction: [number, number] | null;
    execution: [number, number] | null;
    scores: [number, number][];
  } {
    this.loadDeferred();
    const item = this.c.rowItem[r]!;
    const scores: [number, number][] = [];
    if (this.c.scorePassed[r]) scores.push([this.c.scoreOff[r]!, this.c.scoreLen[r]!]);
    for (const [key, at] of this.otherScores) if (key.startsWith(`${r}:`)) scores.push(at);
    return {
      prompt: this.it.promptLen[item]! > 0 ? [this.it.promptOff[item]!, this.it.promptLen[item]!] : null,
      prediction: this.c.predStatus[r] ? [this.c.predOff[r]!, this.c.predLen[r]!] : null,
      execution: this.c.execStatus[r] ? [this.c.execOff[r]!, this.c.execLen[r]!] : null,
      scores,
    };
  }

  /**
   * One page of rows matching the filters, in the requested order. Sorted orders and text-search
   * hits are cached until the index changes; filters are one pass over typed arrays.
   */
  async query(q: RowQuery): Promise<{ total: number; rows: RowRef[]; search_capped?: boolean }> {
    const plain =
      !q.text &&
      !q.status &&
      q.category === undefined &&
      q.error === undefined &&
      q.scoreMin === undefined &&
      q.scoreMax === undefined &&
      (q.sort ?? "order") === "order";
    // a page in file order, unfiltered, reads only its own rows (`ref`); anything else the index
    if (!plain) {
      // only the columns this query reads (a search reads the whole index)
      if (q.text) this.loadDeferred();
      if (q.status) this.need(STATUS_COLUMNS);
      if (q.category !== undefined) this.need(["rowItem", "itemCat"]);
      if (q.error !== undefined) this.need(["errCode"]);
      if (q.scoreMin !== undefined || q.scoreMax !== undefined) this.need(["scorePassed", "score"]);
    }
    const offset = q.offset ?? 0;
    const limit = q.limit ?? 50;
    if (plain) {
      const page: RowRef[] = [];
      for (let k = offset; k < Math.min(this.nRows, offset + limit); k++)
        page.push(this.ref(q.desc ? this.nRows - 1 - k : k));
      return { total: this.nRows, rows: page };
    }
    const order = this.sorted(q.sort ?? "order");
    const found = q.text ? await this.search(q.text) : null;
    const hits = found?.hits ?? null;
    const status = q.status ? ROW_STATUSES.indexOf(q.status) : -1;
    const cat = q.category === undefined ? -1 : (this.categoryIndex.get(q.category) ?? -2);
    const code = q.error === undefined ? -1 : (this.codeIndex.get(q.error) ?? -2);
    const min = q.scoreMin ?? Number.NEGATIVE_INFINITY;
    const max = q.scoreMax ?? Number.POSITIVE_INFINITY;
    const scoreFilter = q.scoreMin !== undefined || q.scoreMax !== undefined;
    const page: number[] = [];
    let total = 0;
    const n = order.length;
    for (let k = 0; k < n; k++) {
      const r = q.desc ? order[n - 1 - k]! : order[k]!;
      if (hits && !hits[r]) continue;
      if (cat !== -1 && this.it.itemCat[this.c.rowItem[r]!] !== cat + 1) continue;
      if (code !== -1 && this.c.errCode[r] !== code + 1) continue;
      if (scoreFilter) {
        if (!this.c.scorePassed[r]) continue;
        const s = this.c.score[r]!;
        if (s < min || s > max) continue;
      }
      if (status !== -1 && ROW_STATUSES.indexOf(this.rowStatus(r)) !== status) continue;
      if (total >= offset && page.length < limit) page.push(r);
      total++;
    }
    const rows = page.map((r) => this.ref(r));
    return found?.capped ? { total, rows, search_capped: true } : { total, rows };
  }

  /** Reads `length` bytes at `offset` of a trial file. */
  read(kind: FileKind, offset: number, length: number): Buffer {
    const fd = openSync(this.path(kind), "r");
    try {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, buf, got, length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  }

  // ---- internal helpers ----

  private sorted(key: SortKey): Int32Array {
    const cacheKey = `${key}@${this.version}`;
    const hit = this.cache.get(cacheKey);
    if (hit) return hit;
    if (key === "id") this.need(["rowItem", "rowSample"], true);
    else if (key === "score") this.need(["scorePassed", "score"]);
    else if (key === "status") this.need(STATUS_COLUMNS);
    else if (key === "category") this.need(["rowItem", "itemCat"]);
    else if (key === "error") this.need(["errCode"]);
    const order = new Int32Array(this.nRows);
    for (let r = 0; r < this.nRows; r++) order[r] = r;
    const ids = this.ids;
    const { rowItem, rowSample, score, scorePassed, errCode } = this.c;
    const byId = (a: number, b: number): number =>
      ids.compare(rowItem[a]!, rowItem[b]!) || rowSample[a]! - rowSample[b]!;
    if (key === "id") order.sort(byId);
    else if (key === "score")
      order.sort((a, b) => {
        const x = scorePassed[a] ? score[a]! : -1;
        const y = scorePassed[b] ? score[b]! : -1;
        return x - y || a - b;
      });
    else if (key === "status") {
      const st = new Uint8Array(this.nRows);
      for (let r = 0; r < this.nRows; r++) st[r] = ROW_STATUSES.indexOf(this.rowStatus(r));
      order.sort((a, b) => st[a]! - st[b]! || a - b);
    } else if (key === "category") {
      const rank = rankOf(this.categories);
      const cats = this.it.itemCat;
      order.sort((a, b) => rank[cats[rowItem[a]!]!]! - rank[cats[rowItem[b]!]!]! || a - b);
    } else if (key === "error") {
      const rank = rankOf(this.codes);
      order.sort((a, b) => rank[errCode[a]!]! - rank[errCode[b]!]! || a - b);
    }
    if (this.cache.size > 8) this.cache.clear();
    this.cache.set(cacheKey, order);
    return order;
  }

  /**
   * Rows whose prompt, prediction or execution line contains `text` as typed, in lower case, in
   * upper case or capitalised, read straight from the files in large chunks by native byte search
   * (no decoding): the text is matched as JSON writes it (escaped), and only lines that are a
   * key's current row count.
   */
  private async search(text: string): Promise<{ hits: Uint8Array; capped: boolean }> {
    const key = `${text}@${this.version}`;
    if (this.searchCache?.key === key) return this.searchCache;
    this.loadDeferred();
    const hits = new Uint8Array(this.nRows);
    const needles = searchForms(text).map((form) => JSON.stringify(form).slice(1, -1));
    const promptItems = new Uint8Array(this.nItems);
    let capped = false;
    const kinds = (["prompts", "predictions", "executions"] as const).filter((k) => this.files[k].size > 0);
    const tables = kinds.map((kind) =>
      kind === "prompts"
        ? this.startsOf(this.it.promptOff, this.nItems, this.it.promptLen)
        : kind === "predictions"
          ? this.startsOf(this.c.predOff, this.nRows, this.c.predLen)
          : this.startsOf(this.c.execOff, this.nRows, this.c.execLen),
    );
    const files = kinds.map((kind) => ({ path: this.path(kind), size: this.files[kind].size }));
    // in a worker thread: this one keeps answering requests meanwhile
    await runInWorker({ type: "search", files, needles, cap: SEARCH_CAP }, (m) => {
      if (m.type === "hits") {
        const table = tables[m.file]!;
        const marks = kinds[m.file] === "prompts" ? promptItems : hits;
        for (const at of m.starts) {
          const who = lookup(table, at);
          if (who >= 0 && who < marks.length) marks[who] = 1;
        }
      } else if (m.type === "searched" && m.capped) capped = true;
    });
    const { rowItem } = this.c;
    for (let r = 0; r < hits.length; r++) if (promptItems[rowItem[r]!]) hits[r] = 1;
    this.searchCache = { key, hits, capped };
    return this.searchCache;
  }

  /** Entries sorted by line offset: [offsets, entry numbers] for binary search. */
  private startsOf(off: Float64Array, n: number, len: Uint32Array): { off: Float64Array; who: Int32Array } {
    const who = new Int32Array(n);
    let m = 0;
    for (let i = 0; i < n; i++) if (len[i]! > 0) who[m++] = i;
    let ascending = true;
    for (let k = 1; k < m && ascending; k++) ascending = off[who[k - 1]!]! < off[who[k]!]!;
    // files are mostly written in row order: then no sort is needed
    const used = ascending ? who.subarray(0, m) : who.subarray(0, m).sort((a, b) => off[a]! - off[b]!);
    const sortedOff = new Float64Array(m);
    for (let i = 0; i < m; i++) sortedOff[i] = off[used[i]!]!;
    return { off: sortedOff, who: used };
  }

  /** About how many lines a file of `size` bytes has, from its first 256 KiB. */
  private estimateLines(kind: FileKind, size: number): number {
    const head = this.read(kind, 0, Math.min(size, 256 << 10));
    let lines = 0;
    for (let p = head.indexOf(10); p >= 0; p = head.indexOf(10, p + 1)) lines++;
    return lines === 0 ? 0 : Math.round((size / head.length) * lines);
  }

  private reset(): void {
    if (this.deferred) closeSync(this.deferred.fd);
    this.deferred = null;
    this.files = emptyFiles();
    this.c = allocate(COLUMNS, 1024);
    this.it = allocate(ITEM_COLUMNS, 1024);
    this.nRows = 0;
    this.nItems = 0;
    this.ids = new IdStore();
    this.cursor = { prompts: 0, predictions: 0, executions: 0, scores: 0 };
    this.extraRows.clear();
    this.otherScores.clear();
    this.categories = [];
    this.categoryIndex.clear();
    this.codes = [];
    this.codeIndex.clear();
    this.cache.clear();
    this.searchCache = null;
    this.version++;
  }

  private load(): void {
    const path = join(this.dir, INDEX_FILE);
    if (!existsSync(path)) return;
    // Read piece by piece into the columns: the file is never held whole in memory.
    const fd = openSync(path, "r");
    let keep = false;
    try {
      keep = this.loadFrom(fd);
    } finally {
      if (!keep) closeSync(fd);
    }
  }

  /**
   * Reads the byte-offset columns that `load` left in the index file (see `deferred`). The file
   * was kept open, so a newer index saved over it meanwhile does not matter.
   */
  private loadDeferred(): void {
    const d = this.deferred;
    if (!d) return;
    this.deferred = null;
    try {
      for (const key of [...d.where.keys()]) this.loadColumn(d, key);
      if (!d.idsLoaded) this.ids = this.readIds(d.fd, d.endsAt, d.bytesAt, this.nItems, d.idsBytes);
    } finally {
      closeSync(d.fd);
    }
  }

  /** Reads these columns (and the ids) into memory if they are still on disk. */
  private need(keys: readonly string[], ids = false): void {
    const d = this.deferred;
    if (!d) return;
    for (const key of keys) if (d.where.has(key)) this.loadColumn(d, key);
    if (ids && !d.idsLoaded) {
      this.ids = this.readIds(d.fd, d.endsAt, d.bytesAt, this.nItems, d.idsBytes);
      d.idsLoaded = true;
    }
  }

  /** Reads one column still on disk into memory. */
  private loadColumn(d: NonNullable<TrialIndex["deferred"]>, key: string): void {
    const at = d.where.get(key)!;
    const items = key in ITEM_COLUMNS;
    const Type = items ? ITEM_COLUMNS[key as keyof ItemColumns] : COLUMNS[key as keyof Columns];
    const n = items ? this.nItems : this.nRows;
    const col = new Type(Math.max(1024, n));
    readFully(d.fd, new Uint8Array(col.buffer, 0, n * col.BYTES_PER_ELEMENT), at);
    (items ? (this.it as Record<string, unknown>) : (this.c as Record<string, unknown>))[key] = col;
    d.where.delete(key);
  }

  /**
   * Reads an index left on disk in the background, a column per turn of the event loop, so the
   * filter or sample asked for after the first page finds it in memory (a request meanwhile waits
   * for one column at most, then reads the rest).
   */
  private prefetch(): void {
    const step = () => {
      const d = this.deferred;
      if (!d) return;
      const key = d.where.keys().next();
      if (!key.done) this.loadColumn(d, key.value);
      else if (!d.idsLoaded) {
        this.ids = this.readIds(d.fd, d.endsAt, d.bytesAt, this.nItems, d.idsBytes);
        d.idsLoaded = true;
      } else return this.loadDeferred();
      setImmediate(step);
    };
    setTimeout(step, PREFETCH_AFTER_MS).unref();
  }

  private readIds(fd: number, endsAt: number, bytesAt: number, items: number, idsBytes: number): IdStore {
    const ends = new Float64Array(items);
    readFully(fd, new Uint8Array(ends.buffer), endsAt);
    const block = Buffer.alloc(idsBytes);
    readFully(fd, block, bytesAt);
    return IdStore.from(block, ends);
  }

  /** One value of a column still on disk (`deferred`), read where it is. */
  private cell(key: keyof Columns | keyof ItemColumns, i: number): number {
    const d = this.deferred!;
    if (!d.where.has(key))
      return (key in ITEM_COLUMNS ? this.it[key as keyof ItemColumns] : this.c[key as keyof Columns])[i]!;
    const Type = key in ITEM_COLUMNS ? ITEM_COLUMNS[key as keyof ItemColumns] : COLUMNS[key as keyof Columns];
    const scratch = new Type(1);
    readFully(d.fd, new Uint8Array(scratch.buffer), d.where.get(key)! + i * Type.BYTES_PER_ELEMENT);
    return scratch[0]!;
  }

  /** `ref(r)` of an index still on disk: a few small reads. */
  private refOnDisk(r: number): RowRef {
    const d = this.deferred!;
    const item = this.cell("rowItem", r);
    const cat = this.cell("itemCat", item);
    const code = this.cell("errCode", r);
    const passed = this.cell("scorePassed", r);
    const error = this.cell("predStatus", r) === 2 || this.cell("execStatus", r) === 2;
    const id = d.idsLoaded ? this.ids.get(item) : this.idOnDisk(d, item);
    return {
      row: r,
      id,
      sample: this.cell("rowSample", r),
      status: error ? "error" : passed === 1 ? "passed" : passed === 2 ? "failed" : "pending",
      score: passed ? this.cell("score", r) : null,
      category: cat ? this.categories[cat - 1]! : null,
      error: code ? this.codes[code - 1]! : null,
    };
  }

  private idOnDisk(d: NonNullable<TrialIndex["deferred"]>, item: number): string {
    const ends = new Float64Array(2);
    if (item > 0) readFully(d.fd, new Uint8Array(ends.buffer), d.endsAt + (item - 1) * 8);
    else readFully(d.fd, new Uint8Array(ends.buffer, 8), d.endsAt);
    const id = Buffer.alloc(ends[1]! - ends[0]!);
    readFully(d.fd, id, d.bytesAt + ends[0]!);
    return id.toString("utf8");
  }

  /** Reads a saved index; true if it kept `fd` open to read the offset columns later. */
  private loadFrom(fd: number): boolean {
    const readAt = (target: Uint8Array, position: number): void => readFully(fd, target, position);
    const lenBuf = Buffer.alloc(8);
    readAt(lenBuf, 0);
    const headLen = lenBuf.readUInt32LE(0);
    const headBuf = Buffer.alloc(headLen);
    readAt(headBuf, 8);
    const header = JSON.parse(headBuf.toString("utf8")) as {
      format: number;
      primary: string | null;
      files: Record<FileKind, FileState>;
      rows: number;
      items: number;
      idsBytes: number;
      categories: string[];
      codes: string[];
      extraRows: [string, number][];
      otherScores: [string, [number, number]][];
      progress?: SavedProgress;
    };
    if (header.format !== FORMAT || header.primary !== this.primary) return false;
    for (const kind of FILE_KINDS) if (!this.stillAppendOnly(kind, header.files[kind])) return false;
    let at = 8 + headLen;
    at += (8 - (at % 8)) % 8;
    // A large index is left on disk until something needs more than a page of rows in file order
    // (see `deferred`): a restart shows its first page without reading it.
    const defer = header.rows >= DEFER_ROWS;
    const where = new Map<string, number>();
    const c: Record<string, ArrayBufferView> = {};
    const it: Record<string, ArrayBufferView> = {};
    for (const [spec, cols, n] of [
      [COLUMNS, c, header.rows],
      [ITEM_COLUMNS, it, header.items],
    ] as const) {
      for (const [key, Type] of Object.entries(spec)) {
        const bytes = n * Type.BYTES_PER_ELEMENT;
        where.set(key, at);
        const col = new Type(defer ? 0 : Math.max(1024, n));
        if (!defer) readAt(new Uint8Array(col.buffer, 0, bytes), at);
        cols[key] = col;
        at += bytes + ((8 - (bytes % 8)) % 8);
      }
    }
    const endsAt = at;
    const bytesAt = at + header.items * 8;
    this.deferred = defer
      ? {
          fd,
          where,
          endsAt,
          bytesAt,
          idsBytes: header.idsBytes,
          idsLoaded: false,
          progress: header.progress ?? null,
        }
      : null;
    if (defer) this.prefetch();
    this.c = c as unknown as Columns;
    this.it = it as unknown as ItemColumns;
    const ids = defer ? new IdStore() : this.readIds(fd, endsAt, bytesAt, header.items, header.idsBytes);
    this.files = header.files;
    this.nRows = header.rows;
    this.nItems = header.items;
    this.ids = ids;
    this.extraRows = new Map(header.extraRows);
    this.otherScores = new Map(header.otherScores);
    this.categories = header.categories;
    this.categories.forEach((x, i) => {
      this.categoryIndex.set(x, i + 1);
    });
    this.codes = header.codes;
    this.codes.forEach((x, i) => {
      this.codeIndex.set(x, i + 1);
    });
    this.version++;
    this.savedVersion = this.version;
    return this.deferred !== null;
  }

  /** Whether a file still starts with what was indexed and has not shrunk. */
  private stillAppendOnly(kind: FileKind, state: FileState | undefined): boolean {
    if (!state) return false;
    const path = this.path(kind);
    if (!existsSync(path)) return state.size === 0;
    const size = statSync(path).size;
    if (size < state.size) return false;
    if (state.size === 0) return true;
    return headHash(this.read(kind, 0, state.headLen)) === state.head;
  }

  private async doUpdate(kinds: readonly FileKind[] = FILE_KINDS): Promise<boolean> {
    for (const kind of FILE_KINDS) {
      if (!this.stillAppendOnly(kind, this.files[kind])) {
        this.reset();
        break;
      }
    }
    const before = this.version;
    for (const kind of kinds) {
      const path = this.path(kind);
      if (!existsSync(path)) continue;
      const f = this.files[kind];
      const size = statSync(path).size;
      if (size <= f.size) continue;
      this.loadDeferred();
      if (f.size === 0) {
        f.headLen = Math.min(HEAD, size);
        f.head = headHash(this.read(kind, 0, f.headLen));
        if (size > CHUNK) this.reserve(Math.ceil(this.estimateLines(kind, size) * 1.05), kind === "prompts");
      }
      const end = await scanChunks(path, f.size, size, (buf, chunkEnd, base) => {
        let start = 0;
        while (start < chunkEnd) {
          const nl = buf.indexOf(10, start);
          const lineEnd = nl < 0 || nl >= chunkEnd ? chunkEnd : nl;
          f.lines++;
          if (lineEnd > start) this.addLine(kind, buf, start, lineEnd, base + start, f);
          start = lineEnd + 1;
        }
      });
      if (end > f.size) {
        f.size = end;
        this.version++;
      }
    }
    if (this.version !== before) {
      this.cache.clear();
      this.searchCache = null;
      return true;
    }
    return false;
  }

  private addLine(
    kind: FileKind,
    buf: Buffer,
    start: number,
    end: number,
    offset: number,
    f: FileState,
  ): void {
    const line = buf.subarray(start, end);
    const row = fastFields(kind, line) || slowFields(line) ? F : undefined;
    if (!row) {
      if (buf.subarray(start, end).toString("latin1").trim() === "") return;
      f.badCount++;
      if (f.bad.length < 10) f.bad.push(f.lines);
      return;
    }
    const length = end - start;
    if (kind === "prompts") {
      const item = this.item(row, kind);
      this.it.promptOff[item] = offset;
      this.it.promptLen[item] = length;
      const cat = row.category;
      this.it.itemCat[item] =
        typeof cat === "string" ? this.intern(cat, this.categories, this.categoryIndex) : 0;
      return;
    }
    const sample = row.sample;
    if (typeof sample !== "number" || !Number.isInteger(sample) || sample < 0) {
      f.badCount++;
      if (f.bad.length < 10) f.bad.push(f.lines);
      return;
    }
    const r = this.row(row, sample, kind);
    const code = row.code;
    if (kind === "predictions") {
      this.c.predOff[r] = offset;
      this.c.predLen[r] = length;
      this.c.predStatus[r] = row.status === "error" ? 2 : 1;
      this.c.errCode[r] =
        row.status === "error"
          ? this.intern(typeof code === "string" ? code : "error", this.codes, this.codeIndex)
          : 0;
    } else if (kind === "executions") {
      this.c.execOff[r] = offset;
      this.c.execLen[r] = length;
      this.c.execStatus[r] = row.status === "error" ? 2 : 1;
      if (row.status === "error" && this.c.predStatus[r] !== 2)
        this.c.errCode[r] = this.intern(
          typeof code === "string" ? code : "error",
          this.codes,
          this.codeIndex,
        );
    } else {
      const scorer = typeof row.scorer === "string" ? row.scorer : "";
      this.primary ??= scorer;
      if (scorer === this.primary) {
        this.c.scoreOff[r] = offset;
        this.c.scoreLen[r] = length;
        this.c.score[r] = typeof row.value === "number" ? row.value : 0;
        this.c.scorePassed[r] = row.passed === true ? 1 : 2;
      } else this.otherScores.set(`${r}:${scorer}`, [offset, length]);
    }
  }

  /** Per file, the item after the last one seen: files mostly list items in the same order. */
  private cursor: Record<FileKind, number> = { prompts: 0, predictions: 0, executions: 0, scores: 0 };

  /** The item of a row's id, created if new; a byte comparison instead of a hash lookup when in order. */
  private item(row: RowFields, kind: FileKind): number {
    return this.itemOf(row.idBuf, row.idStart, row.idEnd, kind);
  }

  private itemOf(buf: Uint8Array, start: number, end: number, kind: FileKind): number {
    const guess = this.cursor[kind];
    if (guess < this.nItems && this.ids.equals(guess, buf, start, end)) {
      this.cursor[kind] = guess + 1;
      return guess;
    }
    const i = this.ids.add(buf, start, end);
    if (i === this.nItems) {
      this.nItems++;
      if (i >= this.it.item0Row.length) this.it = grow(this.it, ITEM_COLUMNS, i * 2);
      this.it.item0Row[i] = -1;
    }
    this.cursor[kind] = i + 1;
    return i;
  }

  /**
   * Makes room for about `rows` rows and items, or items alone (a first read of large files grows
   * the columns once).
   */
  private reserve(rows: number, itemsOnly: boolean): void {
    if (!itemsOnly && rows > this.c.rowItem.length) this.c = grow(this.c, COLUMNS, rows);
    if (rows > this.it.item0Row.length) this.it = grow(this.it, ITEM_COLUMNS, rows);
    this.ids.reserve(rows);
  }

  private row(id: RowFields, sample: number, kind: FileKind): number {
    const item = this.item(id, kind);
    const existing = sample === 0 ? this.it.item0Row[item]! : (this.extraRows.get(`${item}:${sample}`) ?? -1);
    if (existing >= 0) return existing;
    const r = this.nRows++;
    if (r >= this.c.rowItem.length) this.c = grow(this.c, COLUMNS, r * 2);
    this.c.rowItem[r] = item;
    this.c.rowSample[r] = sample;
    this.c.score[r] = Number.NaN;
    if (sample === 0) this.it.item0Row[item] = r;
    else this.extraRows.set(`${item}:${sample}`, r);
    return r;
  }

  private intern(value: string, list: string[], index: Map<string, number>): number {
    const known = index.get(value);
    if (known !== undefined) return known;
    if (list.length >= 65_000) return 0;
    list.push(value);
    index.set(value, list.length);
    return list.length;
  }
}

// ---- internal helpers ----

/** Saved indexes of this many rows or more stay on disk until more than a page of rows is needed. */
const DEFER_ROWS = 65_536;
const STATUS_COLUMNS = ["predStatus", "execStatus", "scorePassed"];
/** How long after a restart's first page the rest of its index is read in the background. */
const PREFETCH_AFTER_MS = 20;

function readFully(fd: number, target: Uint8Array, position: number): void {
  let got = 0;
  while (got < target.length) {
    const n = readSync(fd, target, got, target.length - got, position + got);
    if (n === 0) throw new Error("index: file too short");
    got += n;
  }
}

/** The fields the index keeps, of any row kind. */
interface RowFields {
  /** The id's UTF-8 bytes: `idBuf[idStart, idEnd)` (the line's own bytes when it has no escapes). */
  idBuf: Uint8Array;
  idStart: number;
  idEnd: number;
  sample: unknown;
  status: unknown;
  code: unknown;
  category: unknown;
  scorer: unknown;
  value: unknown;
  passed: unknown;
}

/** Filled for each line in turn (one object of one shape, not one per line). */
const F: RowFields = {
  idBuf: new Uint8Array(0),
  idStart: 0,
  idEnd: 0,
  sample: undefined,
  status: undefined,
  code: undefined,
  category: undefined,
  scorer: undefined,
  value: undefined,
  passed: undefined,
};

function clearFields(): void {
  F.sample = undefined;
  F.status = undefined;
  F.code = undefined;
  F.category = undefined;
  F.scorer = undefined;
  F.value = undefined;
  F.passed = undefined;
}

/**
 * The fields read from the bytes of one line (fields.ts) into `F`; false when the line needs a
 * real parse. `line` is that line alone, so a byte search never runs past it.
 */
function fastFields(kind: FileKind, line: Buffer): boolean {
  const end = line.length;
  if (line[0] !== 0x7b || line[end - 1] !== 0x7d) return false;
  clearFields();
  // rows as benchline writes them start with the id, and rows of samples go on with the sample
  const iv = startsWith(line, 0, ID_FIRST) ? ID_FIRST.length : valueAt(line, 0, end, "id");
  if (iv < 0 || line[iv] !== 0x22) return false;
  const ie = stringEnd(line, iv, end);
  if (ie < 0) return false;
  let slash = false;
  for (let i = iv + 1; i < ie && !slash; i++) slash = line[i] === 0x5c;
  if (!slash) {
    F.idBuf = line;
    F.idStart = iv + 1;
    F.idEnd = ie;
  } else {
    const text = stringAt(line, iv, end);
    if (text === undefined) return false;
    F.idBuf = Buffer.from(text);
    F.idStart = 0;
    F.idEnd = F.idBuf.length;
  }
  if (kind === "prompts") {
    const meta = valueAt(line, 0, end, "metadata");
    if (meta < 0) return true;
    if (line[meta] !== 0x7b) return false;
    const at = valueAt(line, 0, end, "category", 2, meta);
    F.category = at < 0 ? undefined : cachedStringAt(0, line, at, end);
    return true;
  }
  const next = startsWith(line, ie + 1, SAMPLE_NEXT) && iv === ID_FIRST.length;
  F.sample = smallIntAt(line, next ? ie + 1 + SAMPLE_NEXT.length : valueAt(line, 0, end, "sample"), end);
  if (F.sample === undefined) return false;
  if (kind === "scores") {
    F.scorer = cachedStringAt(1, line, valueAt(line, 0, end, "scorer"), end);
    F.value = smallIntAt(line, valueAt(line, 0, end, "value"), end);
    F.passed = booleanAt(line, valueAt(line, 0, end, "passed"));
    return F.scorer !== undefined && F.value !== undefined && F.passed !== undefined;
  }
  const sv = valueAt(line, 0, end, "status");
  if (sv < 0 || line[sv] !== 0x22) return false;
  // only "error" matters; any other string is a row that is done
  const isError =
    sv + ERROR_VALUE.length <= end &&
    line.compare(ERROR_VALUE, 0, ERROR_VALUE.length, sv, sv + ERROR_VALUE.length) === 0;
  F.status = isError ? "error" : "ok";
  if (!isError) return true;
  const error = valueAt(line, 0, end, "error");
  const code = error < 0 ? -1 : valueAt(line, 0, end, "code", 2, error);
  F.code = code < 0 ? undefined : cachedStringAt(2, line, code, end);
  return true;
}

function slowFields(line: Buffer): boolean {
  let row: unknown;
  try {
    row = JSON.parse(line.toString("utf8"));
  } catch {
    return false;
  }
  if (row === null || typeof row !== "object" || Array.isArray(row)) return false;
  const r = row as Record<string, unknown>;
  if (typeof r.id !== "string") return false;
  F.idBuf = Buffer.from(r.id);
  F.idStart = 0;
  F.idEnd = F.idBuf.length;
  F.sample = r.sample;
  F.status = r.status;
  F.code = (r.error as { code?: unknown } | undefined)?.code;
  F.category = (r.metadata as { category?: unknown } | undefined)?.category;
  F.scorer = r.scorer;
  F.value = r.value;
  F.passed = r.passed;
  return true;
}

const ERROR_VALUE = Buffer.from('"error"');
const ID_FIRST = Buffer.from('{"id":');
const SAMPLE_NEXT = Buffer.from(',"sample":');

/** Whether `buf` holds `what` at `at` (compared here: cheaper than a native call for a few bytes). */
function startsWith(buf: Buffer, at: number, what: Buffer): boolean {
  if (at + what.length > buf.length) return false;
  for (let k = 0; k < what.length; k++) if (buf[at + k] !== what[k]) return false;
  return true;
}

/** Strings read at each of a few places, by their raw bytes: repeated values are not decoded again. */
const seenStrings: Map<string, string | undefined>[] = [new Map(), new Map(), new Map()];

function cachedStringAt(slot: number, buf: Buffer, v: number, end: number): string | undefined {
  if (v < 0 || buf[v] !== 0x22) return undefined;
  const e = stringEnd(buf, v, end);
  if (e < 0) return undefined;
  if (e - v > 64) return stringAt(buf, v, end);
  const seen = seenStrings[slot]!;
  const raw = buf.toString("latin1", v, e + 1);
  if (seen.has(raw)) return seen.get(raw);
  const value = stringAt(buf, v, end);
  if (seen.size > 1000) seen.clear();
  seen.set(raw, value);
  return value;
}

/** A small non-negative integer read digit by digit; anything else through numberAt. */
function smallIntAt(buf: Buffer, v: number, end: number): number | undefined {
  if (v < 0) return undefined;
  let n = 0;
  let i = v;
  for (; i < end && i < v + 9; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  const next = buf[i];
  if (i > v && (next === 0x2c || next === 0x7d) && !(buf[v] === 0x30 && i > v + 1)) return n;
  return numberAt(buf, v, end);
}

/** The forms of a search text looked for: as typed, lower case, upper case, capitalised. */
export function searchForms(text: string): string[] {
  const lower = text.toLowerCase();
  return [...new Set([text, lower, text.toUpperCase(), lower.charAt(0).toUpperCase() + lower.slice(1)])];
}

function emptyFiles(): Record<FileKind, FileState> {
  const state = (): FileState => ({ size: 0, lines: 0, head: "", headLen: 0, bad: [], badCount: 0 });
  return { prompts: state(), predictions: state(), executions: state(), scores: state() };
}

function headHash(bytes: Buffer): string {
  return createHash("sha1").update(bytes).digest("hex");
}

function allocate<S extends Record<string, new (n: number) => unknown>>(
  spec: S,
  n: number,
): { [K in keyof S]: InstanceType<S[K]> } {
  const out: Record<string, unknown> = {};
  for (const [key, Type] of Object.entries(spec)) out[key] = new Type(n);
  return out as { [K in keyof S]: InstanceType<S[K]> };
}

function grow<S extends Record<string, new (n: number) => unknown>>(
  cols: { [K in keyof S]: InstanceType<S[K]> },
  spec: S,
  n: number,
): { [K in keyof S]: InstanceType<S[K]> } {
  const out = allocate(spec, n);
  for (const key of Object.keys(spec))
    (out[key] as unknown as Uint8Array).set(cols[key] as unknown as Uint8Array);
  return out;
}

/** Rank of each interned value (index 0 = none first), by the values' sorted order. */
function rankOf(values: string[]): Int32Array {
  const rank = new Int32Array(values.length + 1);
  const sorted = values
    .map((v, i) => [v, i + 1] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  sorted.forEach(([, i], k) => {
    rank[i] = k + 1;
  });
  return rank;
}

function lookup(sorted: { off: Float64Array; who: Int32Array }, at: number): number {
  let lo = 0;
  let hi = sorted.off.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted.off[mid]!;
    if (v === at) return sorted.who[mid]!;
    if (v < at) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * Calls `onChunk(buf, end, base)` for consecutive runs of complete lines between `from` and `to`
 * (`buf[0..end)` holds file bytes from `base`, ending just after a newline). Bytes after the last
 * newline are left alone: a line still being written, or a torn one. Returns where that is.
 * Yields to the event loop between chunks (unless told not to); stops when `onChunk` returns false.
 */
export async function scanChunks(
  path: string,
  from: number,
  to: number,
  onChunk: (buf: Buffer, end: number, base: number) => unknown,
  yieldBetween = true,
): Promise<number> {
  const fd = openSync(path, "r");
  try {
    let buf = Buffer.allocUnsafe(CHUNK);
    let base = from;
    let have = 0;
    while (base + have < to) {
      if (have === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, have);
        buf = bigger;
      }
      const n = readSync(fd, buf, have, Math.min(buf.length - have, to - base - have), base + have);
      if (n === 0) break;
      have += n;
      const lastNl = buf.lastIndexOf(10, have - 1);
      if (lastNl < 0) continue;
      const end = lastNl + 1;
      const more = onChunk(buf, end, base);
      buf.copy(buf, 0, end, have);
      base += end;
      have -= end;
      if (more === false) break;
      if (yieldBetween) await new Promise((resolve) => setImmediate(resolve));
    }
    return base;
  } finally {
    closeSync(fd);
  }
}
