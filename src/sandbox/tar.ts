/**
 * A minimal tar writer/reader (ustar + PAX long names), enough to copy files into and out of
 * containers through the Docker Engine API without a docker CLI or an npm dependency.
 */

export type TarEntryType = "file" | "directory" | "symlink";

export interface TarEntry {
  /** Relative path, `/`-separated; directories may end with `/`. */
  path: string;
  type: TarEntryType;
  content?: Buffer | string;
  linkTarget?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch (default 0: archives are reproducible). */
  mtime?: number;
}

export interface ReadTarEntry {
  path: string;
  type: TarEntryType | "other";
  content: Buffer;
  /** The size in the header; larger than `content.length` when the archive was cut short. */
  size: number;
  linkTarget: string;
  mode: number;
}

const block = 512;
const typeFlags: Record<TarEntryType, string> = { file: "0", directory: "5", symlink: "2" };

export function writeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.type === "file" ? Buffer.from(entry.content ?? "") : Buffer.alloc(0);
    const path = entry.type === "directory" && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path;
    const linkTarget = entry.linkTarget ?? "";
    const pax: Record<string, string> = {};
    if (Buffer.byteLength(path) > 100) pax.path = path;
    if (Buffer.byteLength(linkTarget) > 100) pax.linkpath = linkTarget;
    if (Object.keys(pax).length > 0) {
      const records = Buffer.from(
        Object.entries(pax)
          .map(([key, value]) => paxRecord(key, value))
          .join(""),
      );
      parts.push(header({ path: "PaxHeader", type: "x", size: records.length }), padded(records));
    }
    parts.push(
      header({
        path,
        type: typeFlags[entry.type],
        size: content.length,
        linkTarget,
        mode: entry.mode ?? (entry.type === "directory" ? 0o755 : 0o644),
        uid: entry.uid ?? 0,
        gid: entry.gid ?? 0,
        mtime: entry.mtime ?? 0,
      }),
      padded(content),
    );
  }
  parts.push(Buffer.alloc(block * 2));
  return Buffer.concat(parts);
}

/** Parses an archive; a truncated last entry keeps the bytes that are there. */
export function readTar(archive: Buffer): ReadTarEntry[] {
  const entries: ReadTarEntry[] = [];
  let offset = 0;
  let pending: Record<string, string> = {};
  while (offset + block <= archive.length) {
    const head = archive.subarray(offset, offset + block);
    if (head.every((byte) => byte === 0)) break;
    const size = readNumber(head.subarray(124, 136));
    const flag = String.fromCharCode(head[156] ?? 0);
    const content = archive.subarray(offset + block, Math.min(archive.length, offset + block + size));
    offset += block + Math.ceil(size / block) * block;
    if (flag === "x") pending = { ...pending, ...parsePax(content) };
    else if (flag === "L") pending.path = cString(content);
    else if (flag === "K") pending.linkpath = cString(content);
    else if (flag !== "g") {
      const prefix = cString(head.subarray(345, 500));
      const name = cString(head.subarray(0, 100));
      entries.push({
        path: pending.path ?? (prefix ? `${prefix}/${name}` : name),
        type: flag === "5" ? "directory" : flag === "2" ? "symlink" : "0\0".includes(flag) ? "file" : "other",
        content: Buffer.from(content),
        size,
        linkTarget: pending.linkpath ?? cString(head.subarray(157, 257)),
        mode: readNumber(head.subarray(100, 108)),
      });
      pending = {};
    }
  }
  return entries;
}

// ---------------------------------------------------------------- internal helpers

interface Header {
  path: string;
  type: string;
  size: number;
  linkTarget?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
}

function header(fields: Header): Buffer {
  const head = Buffer.alloc(block);
  head.write(truncateBytes(fields.path, 100), 0, "utf8");
  writeOctal(head, 100, 8, fields.mode ?? 0o644);
  writeOctal(head, 108, 8, fields.uid ?? 0);
  writeOctal(head, 116, 8, fields.gid ?? 0);
  writeOctal(head, 124, 12, fields.size);
  writeOctal(head, 136, 12, fields.mtime ?? 0);
  head.write(fields.type, 156, "ascii");
  head.write(truncateBytes(fields.linkTarget ?? "", 100), 157, "utf8");
  head.write("ustar\u000000", 257, "ascii");
  head.fill(" ", 148, 156); // the checksum is computed with its own field as spaces
  let sum = 0;
  for (const byte of head) sum += byte;
  head.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return head;
}

function writeOctal(head: Buffer, offset: number, length: number, value: number): void {
  head.write(`${value.toString(8).padStart(length - 1, "0")}\0`, offset, "ascii");
}

function readNumber(field: Buffer): number {
  if (((field[0] ?? 0) & 0x80) !== 0) {
    // base-256 (GNU) for values that do not fit in octal
    let value = (field[0] ?? 0) & 0x7f;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    return value;
  }
  const text = cString(field).trim();
  return text ? Number.parseInt(text, 8) : 0;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString("utf8");
}

function truncateBytes(text: string, bytes: number): string {
  const buffer = Buffer.from(text);
  return buffer.length <= bytes ? text : buffer.subarray(0, bytes).toString("utf8");
}

function padded(content: Buffer): Buffer {
  const rest = content.length % block;
  return rest === 0 ? content : Buffer.concat([content, Buffer.alloc(block - rest)]);
}

/** A PAX record is `"<length> <key>=<value>\n"`, where length counts the whole record. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length += 1;
  return `${length}${body}`;
}

function parsePax(content: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let offset = 0;
  while (offset < content.length) {
    const space = content.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number.parseInt(content.subarray(offset, space).toString("ascii"), 10);
    if (!(length > 0)) break;
    const record = content.subarray(space + 1, offset + length - 1).toString("utf8");
    const equals = record.indexOf("=");
    if (equals > 0) fields[record.slice(0, equals)] = record.slice(equals + 1);
    offset += length;
  }
  return fields;
}
