import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readTar, type TarEntry, writeTar } from "./tar.js";

const longDir = `deep/${"d".repeat(60)}/${"e".repeat(60)}`;
const entries: TarEntry[] = [
  { path: "dir", type: "directory", mode: 0o750 },
  { path: "dir/hello.txt", type: "file", content: "hello\n", mode: 0o640 },
  { path: "dir/link", type: "symlink", linkTarget: "hello.txt" },
  { path: `${longDir}/long-name.txt`, type: "file", content: "long" },
  { path: "dir/long-link", type: "symlink", linkTarget: `../${longDir}/long-name.txt` },
  { path: "dir/ünïcode.txt", type: "file", content: Buffer.from([0xe2, 0x82, 0xac]) },
  { path: "dir/big.bin", type: "file", content: Buffer.alloc(513, 7) },
];

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("tar", () => {
  it("reads back what it writes, long names and link targets included", () => {
    const read = readTar(writeTar(entries));
    expect(read.map(({ path, type }) => ({ path, type }))).toEqual(
      entries.map(({ path, type }) => ({ path: type === "directory" ? `${path}/` : path, type })),
    );
    expect(read[1]?.content.toString()).toBe("hello\n");
    expect(read[1]?.mode).toBe(0o640);
    expect(read[4]?.linkTarget).toBe(`../${longDir}/long-name.txt`);
    expect(read[6]?.content).toEqual(Buffer.alloc(513, 7));
  });

  it("writes archives GNU tar extracts", () => {
    dir = mkdtempSync(join(tmpdir(), "benchline-tar-"));
    writeFileSync(join(dir, "a.tar"), writeTar(entries));
    execFileSync("tar", ["-xf", "a.tar"], { cwd: dir });
    expect(readFileSync(join(dir, "dir/hello.txt"), "utf8")).toBe("hello\n");
    expect(statSync(join(dir, "dir/hello.txt")).mode & 0o777).toBe(0o640);
    expect(readlinkSync(join(dir, "dir/link"))).toBe("hello.txt");
    expect(readFileSync(join(dir, "dir/long-link"), "utf8")).toBe("long");
    expect(readFileSync(join(dir, "dir/ünïcode.txt"), "utf8")).toBe("€");
  });

  it.each(["gnu", "pax", "ustar"])("reads archives GNU tar writes in %s format", (format) => {
    dir = mkdtempSync(join(tmpdir(), "benchline-tar-"));
    writeFileSync(join(dir, "a.tar"), writeTar(entries));
    execFileSync("tar", ["-xf", "a.tar"], { cwd: dir });
    // ustar cannot hold dir/long-link's 130-byte target, but splits the long path into its prefix field
    const names =
      format === "ustar" ? ["dir/hello.txt", "dir/link", `${longDir}/long-name.txt`] : ["dir", "deep"];
    const archive = execFileSync("tar", [`--format=${format}`, "-cf", "-", ...names], { cwd: dir });
    const read = readTar(archive);
    expect(read.find((entry) => entry.path === "dir/hello.txt")?.content.toString()).toBe("hello\n");
    expect(read.find((entry) => entry.path === "dir/link")).toMatchObject({
      type: "symlink",
      linkTarget: "hello.txt",
    });
    expect(read.find((entry) => entry.path === `${longDir}/long-name.txt`)?.content.toString()).toBe("long");
  });

  it("keeps what is there of an archive cut short", () => {
    const archive = writeTar([{ path: "f", type: "file", content: "x".repeat(2000) }]);
    const [entry] = readTar(archive.subarray(0, 512 + 700));
    expect(entry).toMatchObject({ path: "f", size: 2000 });
    expect(entry?.content.length).toBe(700);
  });
});
