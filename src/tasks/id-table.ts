/** The first buffer of ids doubles up to this size; then chunks are added. */
const FIRST_BUFFER_MAX = 1 << 16;
/** Integer columns are kept in blocks of 65,536 (256 KiB). */
const BLOCK_BITS = 16;
const BLOCK = 1 << BLOCK_BITS;
/** The slot table grows by half once more than this share of its slots are taken. */
const MAX_LOAD = 0.75;
/** One entry in this many has its offset stored; the others are found by walking the lengths. */
const GROUP_BITS = 4;
const GROUP = 1 << GROUP_BITS;
/**
 * While there are fewer than 2^24 entries, a slot keeps 7 bits of the id's hash above the entry
 * number, so a probe reads an entry's bytes only when they match (1 in 128 of the others).
 */
const TAG_SHIFT = 24;
const ENTRY_MASK = (1 << TAG_SHIFT) - 1;

export interface IdTableOptions {
  /** Bytes per buffer of ids, a power of two (default 1 MiB; small in tests). */
  chunkBytes?: number;
  /** Entries while slots carry a hash tag (default 2^24 − 1, the most that fit beside it). */
  taggedUpTo?: number;
}

/**
 * A compact map from id to a non-negative integer, in insertion order, kept outside the
 * JavaScript heap: each id's UTF-8 bytes after its length (one byte below 128) in buffers of
 * 1 MiB, the offset of every 16th id, and an open-addressing hash table of entry numbers (about 8
 * bytes plus the id's length per entry, where a `Map` of strings costs several times that, all of
 * it heap the garbage collector scans and grows beyond). Values equal to the entry's number (its
 * position in insertion order, the usual case) are not stored; a column of values appears at the
 * first that differs. Exact: ids are compared byte for byte.
 *
 * Growing copies nothing but the slot table: ids and columns go to new buffers and blocks beside
 * the old ones (only the first, small one doubles). A table that doubled its arrays left the
 * freed copies with the allocator: at a million ids the process's peak grew by about twice the
 * table's size (BENCHMARKS.md, "Session 8").
 */
export class IdTable {
  private readonly chunkBits: number;
  private readonly taggedUpTo: number;
  /** Buffers of ids; `chunkBuffer[offset >>> chunkBits]` is the one holding an offset. */
  private buffers: Buffer[];
  /** Offset of each buffer's first byte, and (once the next was started) of its end. */
  private bases: number[] = [0];
  private ends: number[] = [];
  private chunkBuffer: number[] = [0];
  /** Offset of the next id's length (in the last buffer). */
  private used = 0;
  /** Offset of entries 0, 16, 32, … */
  private groups = new IntColumn();
  /** Entry i's value, once one differs from i (before that, entry i's value is i). */
  private values: IntColumn | undefined;
  /** Entry number + 1 per slot (0 = empty), with the hash's tag above it while `tagged`. */
  private slots = new Int32Array(2048);
  private tagged = true;
  size = 0;
  /** What find() left: the bytes it wrote at `used` (length and id), and the id's hash tag. */
  private written = 0;
  private tag = 0;
  /** Where `locate` found the last entry's id: its buffer and the offset of its bytes there. */
  private idAt = 0;
  private idBuffer = 0;

  constructor(options: IdTableOptions = {}) {
    const chunk = options.chunkBytes ?? 1 << 20;
    this.chunkBits = Math.log2(chunk);
    if (!Number.isInteger(this.chunkBits) || chunk < 16)
      throw new RangeError(`chunkBytes must be a power of two ≥ 16 (got ${chunk})`);
    this.taggedUpTo = Math.min(options.taggedUpTo ?? ENTRY_MASK, ENTRY_MASK);
    this.buffers = [Buffer.allocUnsafe(Math.min(4096, chunk))];
  }

  /** The value of `id`, or undefined. */
  get(id: string): number | undefined {
    const entry = this.find(id);
    return entry < 0 ? undefined : this.valueOf(entry);
  }

  has(id: string): boolean {
    return this.find(id) >= 0;
  }

  /** The id of entry `i` (0 ≤ i < size, insertion order). */
  keyAt(i: number): string {
    if (!(i >= 0 && i < this.size)) throw new RangeError(`no entry ${i} (size ${this.size})`);
    const length = this.locate(i);
    return (this.buffers[this.idBuffer] as Buffer).toString("utf8", this.idAt, this.idAt + length);
  }

  /** The entry number of `id` (its place in insertion order, 0-based), or -1. */
  indexOf(id: string): number {
    const entry = this.find(id);
    return entry < 0 ? -1 : entry;
  }

  /**
   * Adds `id` with `value` (0 ≤ value < 2^31; by default the entry's number, `size` before the
   * add) unless present; returns the existing value if it was.
   */
  add(id: string, value = this.size): number | undefined {
    const found = this.find(id);
    if (found >= 0) return this.valueOf(found);
    // find() left the id at `used` and the free slot as -(slot + 1).
    const slot = -found - 1;
    const i = this.size++;
    if (value !== i && !this.values) {
      this.values = new IntColumn();
      for (let k = 0; k < i; k++) this.values.set(k, k);
    }
    this.values?.set(i, value);
    if ((i & (GROUP - 1)) === 0) this.groups.set(i >>> GROUP_BITS, this.used);
    this.used += this.written;
    this.slots[slot] = this.tagged ? (this.tag << TAG_SHIFT) | (i + 1) : i + 1;
    if (this.size > this.slots.length * MAX_LOAD) this.rehash();
    else if (this.tagged && this.size >= this.taggedUpTo) {
      this.tagged = false;
      this.rehash(this.slots.length);
    }
    return undefined;
  }

  /** The ids in insertion order. */
  *keys(): Generator<string> {
    for (let i = 0; i < this.size; i++) yield this.keyAt(i);
  }

  /** The ids with their values, in insertion order. */
  *entries(): Generator<[string, number]> {
    for (let i = 0; i < this.size; i++) yield [this.keyAt(i), this.valueOf(i)];
  }

  /** Bytes held outside the heap (for the benches' breakdowns). */
  get byteSize(): number {
    let bytes = this.slots.byteLength + this.groups.byteSize + (this.values?.byteSize ?? 0);
    for (const buffer of this.buffers) bytes += buffer.length;
    return bytes;
  }

  private valueOf(entry: number): number {
    return this.values ? this.values.get(entry) : entry;
  }

  /**
   * Finds entry i's bytes: from its group's offset, past the lengths of the entries before it
   * (at most 15). Leaves where the id's bytes begin in `idAt` (in buffer `idBuffer`); returns
   * their length.
   */
  private locate(i: number): number {
    let offset = this.groups.get(i >>> GROUP_BITS);
    let b = this.chunkBuffer[offset >>> this.chunkBits] as number;
    let buffer = this.buffers[b] as Buffer;
    let base = this.bases[b] as number;
    for (let k = i & (GROUP - 1); ; k--) {
      // An entry never straddles buffers: at a buffer's end, the next entry is in the next one.
      while (b < this.buffers.length - 1 && offset === this.ends[b]) {
        b++;
        buffer = this.buffers[b] as Buffer;
        offset = base = this.bases[b] as number;
      }
      let p = offset - base;
      let length = buffer[p++] as number;
      if (length >= 0x80) {
        length &= 0x7f;
        for (let shift = 7; ; shift += 7) {
          const byte = buffer[p++] as number;
          length += (byte & 0x7f) * 2 ** shift;
          if (byte < 0x80) break;
        }
      }
      if (k === 0) {
        this.idBuffer = b;
        this.idAt = p;
        return length;
      }
      offset = base + p + length;
    }
  }

  /**
   * Writes the id (its length, then its bytes) at `used` and looks it up: its entry number, or
   * -(slot + 1) of the free slot where it would go.
   */
  private find(id: string): number {
    const length = Buffer.byteLength(id);
    const prefix = varintSize(length);
    let b = this.buffers.length - 1;
    if (this.used - (this.bases[b] as number) + prefix + length > (this.buffers[b] as Buffer).length) {
      this.room(prefix + length);
      b = this.buffers.length - 1;
    }
    const buffer = this.buffers[b] as Buffer;
    let at = this.used - (this.bases[b] as number);
    for (let rest = length; ; rest = Math.floor(rest / 128)) {
      if (rest < 0x80) {
        buffer[at++] = rest;
        break;
      }
      buffer[at++] = (rest % 128) | 0x80;
    }
    buffer.write(id, at, "utf8");
    this.written = prefix + length;
    const { slots, tagged } = this;
    const capacity = slots.length;
    const h = hash(buffer, at, at + length);
    const tag = h >>> 25;
    this.tag = tag;
    for (let slot = reduce(h, capacity); ; slot = slot + 1 === capacity ? 0 : slot + 1) {
      const v = slots[slot] as number;
      if (v === 0) return -(slot + 1);
      if (tagged && v >>> TAG_SHIFT !== tag) continue;
      const e = (tagged ? v & ENTRY_MASK : v) - 1;
      if (
        this.locate(e) === length &&
        same(buffer, at, this.buffers[this.idBuffer] as Buffer, this.idAt, length)
      )
        return e;
    }
  }

  /**
   * Makes room for `bytes` at `used`: the first buffer doubles up to 64 KiB (a small table stays
   * small), then whole chunks are added. A chunk's pages cost memory only once written, and no
   * large buffer is ever freed (freeing one makes the allocator keep later ones in its heap).
   */
  private room(bytes: number): void {
    const chunk = 2 ** this.chunkBits;
    const b = this.buffers.length - 1;
    const buffer = this.buffers[b] as Buffer;
    const base = this.bases[b] as number;
    const at = this.used - base;
    const small = Math.min(chunk, FIRST_BUFFER_MAX);
    if (b === 0 && at + bytes <= small) {
      const bigger = Buffer.allocUnsafe(Math.min(small, Math.max(at + bytes, buffer.length * 2)));
      buffer.copy(bigger, 0, 0, at);
      this.buffers[0] = bigger;
      return;
    }
    // The next buffer starts at the next whole chunk; an id longer than a chunk gets whole chunks.
    const start = (Math.floor((base + buffer.length - 1) / chunk) + 1) * chunk;
    const chunks = Math.ceil(bytes / chunk);
    if (start + chunks * chunk > 2 ** 31)
      throw new RangeError("ids take more than 2 GiB: too many for one table");
    this.ends[b] = this.used;
    this.buffers.push(Buffer.allocUnsafe(chunks * chunk));
    this.bases.push(start);
    for (let c = start / chunk; c < start / chunk + chunks; c++) this.chunkBuffer[c] = b + 1;
    this.used = start;
  }

  /** Grows the slots by half; hashes are computed again from the bytes (no column of hashes is kept). */
  private rehash(capacity = Math.ceil(this.slots.length * 1.5)): void {
    const slots = new Int32Array(capacity);
    for (let i = 0; i < this.size; i++) {
      const length = this.locate(i);
      const h = hash(this.buffers[this.idBuffer] as Buffer, this.idAt, this.idAt + length);
      let slot = reduce(h, capacity);
      while (slots[slot] !== 0) slot = slot + 1 === capacity ? 0 : slot + 1;
      slots[slot] = this.tagged ? ((h >>> 25) << TAG_SHIFT) | (i + 1) : i + 1;
    }
    this.slots = slots;
  }
}

/** Bytes of a length written 7 bits a byte (LEB128): 1 below 128. */
function varintSize(length: number): number {
  let size = 1;
  for (let rest = length; rest >= 0x80; rest = Math.floor(rest / 128)) size++;
  return size;
}

/** FNV-1a over bytes [from, to). */
function hash(bytes: Buffer, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let k = from; k < to; k++) h = Math.imul(h ^ (bytes[k] as number), 0x01000193);
  return h;
}

/**
 * A 32-bit hash to a slot in [0, capacity) by its remainder (any capacity, not only powers of
 * two). Ids that differ in their last byte (q1, q2, …) land in nearby slots, so looking them up
 * in file order stays within a few cache lines, as with the low bits of a power-of-two table.
 */
function reduce(h: number, capacity: number): number {
  return (h >>> 0) % capacity;
}

/** Whether a[i..i+length) equals b[j..j+length); short ids byte by byte (cheaper than a native call). */
function same(a: Buffer, i: number, b: Buffer, j: number, length: number): boolean {
  if (length > 32) return a.compare(b, j, j + length, i, i + length) === 0;
  for (let k = 0; k < length; k++) if (a[i + k] !== b[j + k]) return false;
  return true;
}

/**
 * A column of integers (−2^31 ≤ value < 2^31) set in order: the first block doubles up to 65,536
 * values, then blocks of that size are added, so growing never copies a large array.
 */
class IntColumn {
  private blocks: Int32Array<ArrayBuffer>[] = [new Int32Array(64)];

  get(i: number): number {
    return (this.blocks[i >>> BLOCK_BITS] as Int32Array)[i & (BLOCK - 1)] as number;
  }

  set(i: number, value: number): void {
    const b = i >>> BLOCK_BITS;
    while (b >= this.blocks.length) this.blocks.push(new Int32Array(BLOCK));
    let block = this.blocks[b] as Int32Array<ArrayBuffer>;
    const k = i & (BLOCK - 1);
    if (k >= block.length) {
      const bigger = new Int32Array(Math.min(BLOCK, Math.max(k + 1, block.length * 2)));
      bigger.set(block);
      this.blocks[b] = block = bigger;
    }
    block[k] = value;
  }

  get byteSize(): number {
    let bytes = 0;
    for (const block of this.blocks) bytes += block.byteLength;
    return bytes;
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
