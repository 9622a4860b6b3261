import type { Sample } from "../core/index.js";
import { type Dataset, readDataset } from "../tasks/index.js";

/**
 * The dataset's samples by id, read from the file in step with a caller that asks in about the
 * dataset's order (the order rows of the trial files are written in). Each id is announced with
 * `need` as many times as it will be taken or released; a sample read past on the way to another
 * is held only while it has uses left, so memory follows how far the asks are out of order, not
 * the dataset's size (asked in reverse order, it holds what a map of every sample would).
 */
export class SampleLookup {
  private readonly waiting = new Map<string, Sample>();
  private readonly left: Int32Array;
  private source: AsyncGenerator<Sample> | undefined;
  private exhausted = false;

  constructor(private readonly dataset: Dataset) {
    this.left = new Int32Array(dataset.total);
  }

  /** One more use of `id` (a selected id; others are ignored). */
  need(id: string): void {
    const position = this.dataset.index.get(id);
    if (position !== undefined) this.left[position]!++;
  }

  /** The sample of `id` (one use); undefined when the dataset no longer has it. */
  async take(id: string): Promise<Sample | undefined> {
    const position = this.dataset.index.get(id);
    if (position === undefined) return undefined;
    const held = this.waiting.get(id);
    if (held) {
      if (--this.left[position]! <= 0) this.waiting.delete(id);
      return held;
    }
    this.source ??= readDataset(this.dataset);
    while (!this.exhausted) {
      const next = await this.source.next();
      if (next.done) {
        this.exhausted = true;
        break;
      }
      const sample = next.value;
      if (sample.id === id) {
        if (--this.left[position]! > 0) this.waiting.set(id, sample);
        return sample;
      }
      const p = this.dataset.index.get(sample.id);
      if (p !== undefined && this.left[p]! > 0) this.waiting.set(sample.id, sample);
    }
    return undefined;
  }

  /** One use of `id` that needs no sample. */
  release(id: string): void {
    const position = this.dataset.index.get(id);
    if (position === undefined || this.left[position]! <= 0) return;
    if (--this.left[position]! === 0) this.waiting.delete(id);
  }

  async close(): Promise<void> {
    await this.source?.return(undefined);
  }
}

/**
 * Rows of a trial file by key, read in step with a caller that asks for each `wanted` key once,
 * in about the file's order; a wanted row read past is held until it is asked for.
 */
export class RowsInStep<T> {
  private readonly waiting = new Map<string, T>();
  private exhausted = false;

  constructor(
    private readonly source: AsyncGenerator<{ key: string; row: T }>,
    private readonly wanted: (key: string) => boolean,
  ) {}

  async take(key: string): Promise<T | undefined> {
    const held = this.waiting.get(key);
    if (held !== undefined) {
      this.waiting.delete(key);
      return held;
    }
    while (!this.exhausted) {
      const next = await this.source.next();
      if (next.done) {
        this.exhausted = true;
        break;
      }
      if (next.value.key === key) return next.value.row;
      if (this.wanted(next.value.key)) this.waiting.set(next.value.key, next.value.row);
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.source.return(undefined);
  }
}
