/**
 * Splits one byte stream into parts at in-band markers: part i ends at `marker(i)`, the whole
 * stream at `end`. Bytes go to `sink(part, bytes)` as they arrive; a marker split across chunks
 * is still found (up to `maxMarker` bytes are held back until the next chunk or `flush`).
 */
export class StreamSplitter {
  private tail: Buffer = Buffer.alloc(0);
  private part = 0;
  private done = false;

  constructor(
    private readonly marker: (part: number) => Buffer,
    private readonly end: Buffer,
    private readonly maxMarker: number,
    private readonly sink: (part: number, bytes: Buffer) => void,
  ) {}

  /** True once the end marker was seen. */
  get ended(): boolean {
    return this.done;
  }

  push(chunk: Buffer): void {
    if (this.done) return;
    let buffer = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    for (;;) {
      const next = this.marker(this.part);
      const atPart = buffer.indexOf(next);
      const atEnd = buffer.indexOf(this.end);
      if (atEnd !== -1 && (atPart === -1 || atEnd < atPart)) {
        this.emit(buffer.subarray(0, atEnd));
        this.done = true;
        this.tail = Buffer.alloc(0);
        return;
      }
      if (atPart === -1) break;
      this.emit(buffer.subarray(0, atPart));
      this.part += 1;
      buffer = buffer.subarray(atPart + next.length);
    }
    const keep = Math.min(buffer.length, this.maxMarker - 1);
    this.emit(buffer.subarray(0, buffer.length - keep));
    this.tail = Buffer.from(buffer.subarray(buffer.length - keep));
  }

  /** The stream ended without its end marker: what was held back belongs to the current part. */
  flush(): void {
    this.emit(this.tail);
    this.tail = Buffer.alloc(0);
  }

  private emit(bytes: Buffer): void {
    if (bytes.length > 0) this.sink(this.part, bytes);
  }
}
