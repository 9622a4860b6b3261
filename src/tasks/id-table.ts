/**
 * A compact map from id to a non-negative integer, in insertion order, kept outside the
 * JavaScript heap: the ids' UTF-8 bytes in one growing buffer, an open-addressing hash table of
 * entry numbers and a typed array of offsets (about 12 bytes plus the id's length per entry,
 * where a `Map` of strings costs several times that, all of it heap the garbage collector scans
 * and grows beyond). Values equal to the entry's number (its position in insertion order, the
 * usual case) are not stored; a column of values appears at the first that differs. Exact: ids
 * are compared byte for byte.
 */
export class IdTable {
  private bytes: Buffer = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  /** Start of entry i's bytes; its end is starts[i + 1] (or `used` for the last). */
  private starts = new Int32Array(1024);
  /** Entry i's value, once one differs from i (before that, entry i's value is i). */
  private values: Int32Array<ArrayBuffer> | undefined;
  /** Entry number + 1 per slot (0 = empty); the length is a power of two. */
  private slots = new Int32Array(2048);
  size = 0;

  /** The value of `id`, or undefined. */
  get(id: string): number | undefined {
    const { entry } = this.find(id);
    return entry === -1 ? undefined : this.valueOf(entry);
  }

  has(id: string): boolean {
    return this.find(id).entry !== -1;
  }

  /** The id of entry `i` (0 ≤ i < size, insertion order). */
  keyAt(i: number): string {
    if (!(i >= 0 && i < this.size)) throw new RangeError(`no entry ${i} (size ${this.size})`);
    return this.bytes.toString("utf8", this.starts[i], this.end(i));
  }

  /** The entry number of `id` (its place in insertion order, 0-based), or -1. */
  indexOf(id: string): number {
    return this.find(id).entry;
  }

  /**
   * Adds `id` with `value` (0 ≤ value < 2^31; by default the entry's number, `size` before the
   * add) unless present; returns the existing value if it was.
   */
  add(id: string, value = this.size): number | undefined {
    const { slot, entry, length } = this.find(id);
    if (entry !== -1) return this.valueOf(entry);
    // find() left the id's bytes just past `used`.
    const i = this.size++;
    if (i >= this.starts.length) {
      this.starts = grow(this.starts);
      if (this.values) this.values = grow(this.values);
    }
    if (value !== i && !this.values) {
      this.values = new Int32Array(this.starts.length);
      for (let k = 0; k < i; k++) this.values[k] = k;
    }
    if (this.values) this.values[i] = value;
    this.starts[i] = this.used;
    this.used += length;
    this.slots[slot] = i + 1;
    if (this.size * 2 > this.slots.length) this.rehash();
    return undefined;
  }

  /** The ids in insertion order. */
  *keys(): Generator<string> {
    for (let i = 0; i < this.size; i++) yield this.bytes.toString("utf8", this.starts[i], this.end(i));
  }

  /** The ids with their values, in insertion order. */
  *entries(): Generator<[string, number]> {
    for (let i = 0; i < this.size; i++)
      yield [this.bytes.toString("utf8", this.starts[i], this.end(i)), this.valueOf(i)];
  }

  private valueOf(entry: number): number {
    return this.values ? (this.values[entry] as number) : entry;
  }

  private end(i: number): number {
    return i + 1 < this.size ? (this.starts[i + 1] as number) : this.used;
  }

  /** Writes the id's bytes after `used` and looks them up. */
  private find(id: string): { slot: number; entry: number; length: number } {
    const need = this.used + Buffer.byteLength(id);
    if (need > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.bytes.length * 2));
      this.bytes.copy(bigger, 0, 0, this.used);
      this.bytes = bigger;
    }
    const start = this.used;
    const length = this.bytes.write(id, start, "utf8");
    const mask = this.slots.length - 1;
    for (let slot = this.hash(start, start + length) & mask; ; slot = (slot + 1) & mask) {
      const e = (this.slots[slot] as number) - 1;
      if (e === -1) return { slot, entry: -1, length };
      const s = this.starts[e] as number;
      if (
        this.end(e) - s === length &&
        this.bytes.compare(this.bytes, start, start + length, s, s + length) === 0
      )
        return { slot, entry: e, length };
    }
  }

  /** FNV-1a over bytes [from, to). */
  private hash(from: number, to: number): number {
    let hash = 0x811c9dc5;
    for (let k = from; k < to; k++) hash = Math.imul(hash ^ (this.bytes[k] as number), 0x01000193);
    return hash;
  }

  /** Doubles the slots; hashes are computed again from the bytes (no column of hashes is kept). */
  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let i = 0; i < this.size; i++) {
      let slot = this.hash(this.starts[i] as number, this.end(i)) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = i + 1;
    }
    this.slots = slots;
  }
}

/**
 * A growing list of integers (−2^31 ≤ value < 2^31) in one typed array: 4 bytes each, outside the
 * JavaScript heap, where a `number[]` costs 8 bytes each of heap the garbage collector scans. While
 * every value is the first plus its index (a dataset's lines, without blank lines), none is stored.
 */
export class IntList {
  /** The values, once one is not `first + index`. */
  private items: Int32Array<ArrayBuffer> | undefined;
  private first = 0;
  length = 0;

  push(value: number): void {
    if (!this.items) {
      if (this.length === 0) this.first = value;
      if (value === this.first + this.length) {
        this.length++;
        return;
      }
      let capacity = 1024;
      while (capacity <= this.length) capacity *= 2;
      this.items = new Int32Array(capacity);
      for (let i = 0; i < this.length; i++) this.items[i] = this.first + i;
    }
    if (this.length >= this.items.length) this.items = grow(this.items);
    this.items[this.length++] = value;
  }

  /** The i-th value, or undefined past the end. */
  get(i: number): number | undefined {
    if (!(i >= 0 && i < this.length)) return undefined;
    return this.items ? this.items[i] : this.first + i;
  }
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}
