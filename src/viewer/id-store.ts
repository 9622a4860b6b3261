/**
 * The item ids of a trial index, kept as bytes: one growing block of UTF-8 bytes, the end of each
 * id in a typed array, and an open-addressing hash table (typed arrays too) from id bytes to item
 * number. A million ids cost a few megabytes and no JS string or Map entry each; an id is decoded
 * to a string only when a page shows it.
 */

export class IdStore {
  /** UTF-8 bytes of every id, back to back. */
  private bytes: Buffer;
  private used = 0;
  /** ends[i]: where id i ends in `bytes` (it starts where id i-1 ends). */
  private ends: Float64Array;
  private hashes: Uint32Array;
  /** item + 1 per slot, 0 for an empty slot; its length is a power of two, at least twice `n`. */
  private table: Int32Array;
  /** Whether `hashes` and `table` hold all ids (a store read from disk builds them on first use). */
  private hashed = true;
  n = 0;

  constructor(capacity = 1024) {
    this.bytes = Buffer.allocUnsafe(capacity * 16);
    this.ends = new Float64Array(capacity);
    this.hashes = new Uint32Array(capacity);
    this.table = new Int32Array(tableSize(capacity));
  }

  /** Makes room for `n` ids (of about `avgBytes` each) without growing again. */
  reserve(n: number, avgBytes = 16): void {
    if (n > this.ends.length) this.resize(n);
    const need = Math.ceil(n * avgBytes);
    if (need > this.bytes.length) this.growBytes(need);
  }

  /** The item of the id `buf[start, end)`, or -1. */
  find(buf: Uint8Array, start: number, end: number): number {
    if (!this.hashed) this.hashAll();
    const h = hashOf(buf, start, end);
    const mask = this.table.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const v = this.table[s]!;
      if (v === 0) return -1;
      if (this.hashes[v - 1] === h && this.equals(v - 1, buf, start, end)) return v - 1;
    }
  }

  /** The item of the id `buf[start, end)`, added if new (then it is `n - 1`). */
  add(buf: Uint8Array, start: number, end: number): number {
    if (!this.hashed) this.hashAll();
    const h = hashOf(buf, start, end);
    let mask = this.table.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const v = this.table[s]!;
      if (v === 0) break;
      if (this.hashes[v - 1] === h && this.equals(v - 1, buf, start, end)) return v - 1;
    }
    const i = this.n;
    if (i >= this.ends.length) this.resize(i * 2);
    const len = end - start;
    if (this.used + len > this.bytes.length) this.growBytes((this.used + len) * 2);
    this.bytes.set(buf.subarray(start, end), this.used);
    this.used += len;
    this.ends[i] = this.used;
    this.hashes[i] = h;
    this.n = i + 1;
    mask = this.table.length - 1;
    let s = h & mask;
    while (this.table[s] !== 0) s = (s + 1) & mask;
    this.table[s] = i + 1;
    return i;
  }

  /** Whether id `i` is the bytes `buf[start, end)`. */
  equals(i: number, buf: Uint8Array, start: number, end: number): boolean {
    const from = i === 0 ? 0 : this.ends[i - 1]!;
    const to = this.ends[i]!;
    if (to - from !== end - start) return false;
    const b = this.bytes;
    for (let k = 0; k < end - start; k++) if (b[from + k] !== buf[start + k]) return false;
    return true;
  }

  /** The bytes of id `i` (a view, not a copy). */
  bytesOf(i: number): Uint8Array {
    return this.bytes.subarray(i === 0 ? 0 : this.ends[i - 1]!, this.ends[i]!);
  }

  get(i: number): string {
    return this.bytes.toString("utf8", i === 0 ? 0 : this.ends[i - 1]!, this.ends[i]!);
  }

  /** Byte order of ids `a` and `b` (for ASCII ids, the order of their strings). */
  compare(a: number, b: number): number {
    const b0 = this.bytes;
    let x = a === 0 ? 0 : this.ends[a - 1]!;
    const xe = this.ends[a]!;
    let y = b === 0 ? 0 : this.ends[b - 1]!;
    const ye = this.ends[b]!;
    for (; x < xe && y < ye; x++, y++) {
      const d = b0[x]! - b0[y]!;
      if (d !== 0) return d;
    }
    return xe - x - (ye - y);
  }

  /** What is saved: the id bytes and their ends (the hash table is rebuilt from them). */
  parts(): { bytes: Buffer; ends: Float64Array } {
    return { bytes: this.bytes.subarray(0, this.used), ends: this.ends.subarray(0, this.n) };
  }

  /**
   * A store over saved parts. Its hash table is built on the first `find` or `add` (a restart that
   * only shows pages of rows never needs it).
   */
  static from(bytes: Buffer, ends: Float64Array): IdStore {
    const store = new IdStore(0);
    store.bytes = bytes;
    store.used = bytes.length;
    store.ends = ends;
    store.n = ends.length;
    store.hashed = false;
    return store;
  }

  /** Everything, hash table included, to hand to another thread (`transfer`: the buffers to move). */
  export(): {
    bytes: Uint8Array;
    used: number;
    ends: Float64Array;
    hashes: Uint32Array;
    table: Int32Array;
    n: number;
    hashed: boolean;
  } {
    return {
      bytes: this.bytes,
      used: this.used,
      ends: this.ends,
      hashes: this.hashes,
      table: this.table,
      n: this.n,
      hashed: this.hashed,
    };
  }

  /** The store `export()` gave, in this thread. */
  static imported(e: ReturnType<IdStore["export"]>): IdStore {
    const store = new IdStore(0);
    store.bytes = Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
    store.used = e.used;
    store.ends = e.ends;
    store.hashes = e.hashes;
    store.table = e.table;
    store.n = e.n;
    store.hashed = e.hashed;
    return store;
  }

  // ---- internal helpers ----

  private hashAll(): void {
    this.hashed = true;
    const capacity = Math.max(1024, this.n);
    if (this.ends.length < capacity) {
      const ends = new Float64Array(capacity);
      ends.set(this.ends.subarray(0, this.n));
      this.ends = ends;
    }
    this.hashes = new Uint32Array(this.ends.length);
    for (let i = 0; i < this.n; i++)
      this.hashes[i] = hashOf(this.bytes, i === 0 ? 0 : this.ends[i - 1]!, this.ends[i]!);
    this.rehash();
  }

  private resize(capacity: number): void {
    if (!this.hashed) this.hashAll();
    const ends = new Float64Array(capacity);
    ends.set(this.ends.subarray(0, this.n));
    const hashes = new Uint32Array(capacity);
    hashes.set(this.hashes.subarray(0, this.n));
    this.ends = ends;
    this.hashes = hashes;
    this.rehash();
  }

  private growBytes(size: number): void {
    const bytes = Buffer.allocUnsafe(size);
    this.bytes.copy(bytes, 0, 0, this.used);
    this.bytes = bytes;
  }

  private rehash(): void {
    this.table = new Int32Array(tableSize(this.ends.length));
    const mask = this.table.length - 1;
    for (let i = 0; i < this.n; i++) {
      let s = this.hashes[i]! & mask;
      while (this.table[s] !== 0) s = (s + 1) & mask;
      this.table[s] = i + 1;
    }
  }
}

function tableSize(capacity: number): number {
  let size = 1024;
  while (size < capacity * 2) size *= 2;
  return size;
}

/** FNV-1a over the bytes. */
function hashOf(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}
