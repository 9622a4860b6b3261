import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileHashes } from "./file-hash.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe("FileHashes", () => {
  const dir = mkdtempSync(join(tmpdir(), "benchline-hashes-"));
  const model = join(dir, "model.bin");
  const store = join(dir, "cache", "file-hashes.json");

  it("hashes content, records only on save, and trusts a record while size, mtime and inode hold", () => {
    writeFileSync(model, "weights v1");
    const first = new FileHashes(store);
    expect(first.of(model)).toBe(sha("weights v1"));
    expect(existsSync(store)).toBe(false); // nothing written before save()
    first.save();
    const recorded = JSON.parse(readFileSync(store, "utf8"));
    expect(recorded[model].sha256).toBe(sha("weights v1"));

    // A record that matches size, mtime and inode is used without reading the file: prove it by
    // planting a different hash for the same stat.
    writeFileSync(store, JSON.stringify({ [model]: { ...recorded[model], sha256: "planted" } }));
    expect(new FileHashes(store).of(model)).toBe("planted");

    // New content of the same size under the same path: the mtime moved, so it is hashed again.
    writeFileSync(model, "weights v2");
    const later = new Date(Date.now() + 10_000);
    utimesSync(model, later, later);
    expect(new FileHashes(store).of(model)).toBe(sha("weights v2"));
  });

  it("a damaged record file is ignored, and save merges with what another run recorded", () => {
    writeFileSync(store, "{not json");
    const hashes = new FileHashes(store);
    expect(hashes.of(model)).toBe(sha("weights v2"));
    writeFileSync(
      store,
      JSON.stringify({ "/elsewhere": { size: "1", mtime_ns: "1", ino: "1", sha256: "kept" } }),
    );
    hashes.save();
    const saved = JSON.parse(readFileSync(store, "utf8"));
    expect(Object.keys(saved).sort()).toEqual(["/elsewhere", model].sort());
  });
});
