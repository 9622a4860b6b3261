/**
 * A compact map from id to a non-negative integer, in insertion order, kept outside the
 * JavaScript heap: the ids' UTF-8 bytes in one growing buffer, an open-addressing hash table of
 * entry numbers and typed arrays of offsets, hashes and values (about 20 bytes plus the id's
 * length per entry, where a `Map` of strings costs several times that, all of it heap the
 * garbage collector scans and grows beyond). Exact: ids are compared byte for byte.
 */
export class IdTable {
  private bytes: Buffer = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  /** Start of entry i's bytes; its end is starts[i + 1] (or `used` for the last). */
  private starts = new Int32Array(1024);
  private hashes = new Int32Array(1024);
  private values = new Int32Array(1024);
  /** Entry number + 1 per slot (0 = empty); the length is a power of two. */
  private slots = new Int32Array(2048);
  size = 0;

  /** The value of `id`, or undefined. */
  get(id: string): number | undefined {
    const { entry } = this.find(id);
    return entry === -1 ? undefined : (this.values[entry] as number);
  }

  has(id: string): boolean {
    return this.find(id).entry !== -1;
  }

  /** Adds `id` with `value` (0 ≤ value < 2^31) unless present; returns the existing value if it was. */
  add(id: string, value: number): number | undefined {
    const { slot, entry, hash, length } = this.find(id);
    if (entry !== -1) return this.values[entry] as number;
    // find() left the id's bytes just past `used`.
    const i = this.size++;
    if (i >= this.starts.length) {
      this.starts = grow(this.starts);
      this.hashes = grow(this.hashes);
      this.values = grow(this.values);
    }
    this.starts[i] = this.used;
    this.hashes[i] = hash;
    this.values[i] = value;
    this.used += length;
    this.slots[slot] = i + 1;
    if (this.size * 2 > this.slots.length) this.rehash();
    return undefined;
  }

  /** The ids in insertion order. */
  *keys(): Generator<string> {
    for (let i = 0; i < this.size; i++) yield this.bytes.toString("utf8", this.starts[i], this.end(i));
  }

  private end(i: number): number {
    return i + 1 < this.size ? (this.starts[i + 1] as number) : this.used;
  }

  /** Writes the id's bytes after `used` and looks them up. */
  private find(id: string): { slot: number; entry: number; hash: number; length: number } {
    const need = this.used + Buffer.byteLength(id);
    if (need > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.bytes.length * 2));
      this.bytes.copy(bigger, 0, 0, this.used);
      this.bytes = bigger;
    }
    const length = this.bytes.write(id, this.used, "utf8");
    const start = this.used;
    // FNV-1a over the bytes.
    let hash = 0x811c9dc5;
    for (let k = start; k < start + length; k++)
      hash = Math.imul(hash ^ (this.bytes[k] as number), 0x01000193);
    hash |= 0;
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const e = (this.slots[slot] as number) - 1;
      if (e === -1) return { slot, entry: -1, hash, length };
      if (this.hashes[e] !== hash) continue;
      const s = this.starts[e] as number;
      if (
        this.end(e) - s === length &&
        this.bytes.compare(this.bytes, start, start + length, s, s + length) === 0
      )
        return { slot, entry: e, hash, length };
    }
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let i = 0; i < this.size; i++) {
      let slot = (this.hashes[i] as number) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = i + 1;
    }
    this.slots = slots;
  }
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}
