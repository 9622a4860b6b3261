import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers.js";

/**
 * The import rule of ARCHITECTURE.md: a phase folder imports only core/ (and itself); only
 * pipeline/ and cli/ compose phases. Test files may also import test/ helpers.
 */
const ALLOWED: Record<string, string[]> = {
  core: [],
  config: ["core"],
  stats: ["core"],
  scoring: ["core"],
  sandbox: ["core"],
  providers: ["core"],
  tasks: ["core"],
  sources: ["core"],
  report: ["core", "stats"],
  viewer: ["core", "stats", "report"],
  pipeline: ["core", "config", "tasks", "providers", "scoring", "sandbox", "report", "stats", "sources"],
  queue: ["core", "config", "providers", "sandbox"],
  cli: [
    "core",
    "config",
    "tasks",
    "providers",
    "scoring",
    "sandbox",
    "report",
    "stats",
    "pipeline",
    "sources",
    "viewer",
    "queue",
  ],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

describe("architecture", () => {
  const src = join(ROOT, "src");
  const folders = readdirSync(src).filter((f) => statSync(join(src, f)).isDirectory());

  it("every folder under src/ has a rule and is described in ARCHITECTURE.md", () => {
    const doc = readFileSync(join(ROOT, "ARCHITECTURE.md"), "utf8");
    for (const folder of folders) {
      expect(ALLOWED, `no import rule for src/${folder}`).toHaveProperty(folder);
      expect(doc, `ARCHITECTURE.md does not describe src/${folder}/`).toContain(`${folder}/`);
    }
  });

  it("no file imports a folder its own folder may not depend on", () => {
    const violations: string[] = [];
    for (const file of sourceFiles(src)) {
      const folder = relative(src, file).split("/")[0]!;
      const isTest = file.endsWith(".test.ts");
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(IMPORT)) {
        const spec = match[1] ?? match[2]!;
        if (!spec.startsWith(".")) continue;
        const target = resolve(dirname(file), spec);
        const rel = relative(src, target);
        if (rel.startsWith("..")) {
          if (isTest && relative(ROOT, target).startsWith("test/")) continue;
          violations.push(`${relative(ROOT, file)} imports ${spec} (outside src/)`);
          continue;
        }
        const other = rel.split("/")[0]!;
        if (other === folder) continue;
        if (!(ALLOWED[folder] ?? []).includes(other))
          violations.push(`${relative(ROOT, file)} imports ${spec} (${folder}/ may not import ${other}/)`);
      }
    }
    expect(violations).toEqual([]);
  });

  it.each(["code-edit", "cvdp"])(
    "tasks/%s/ imports only core/, its own files and tasks/define.ts",
    (name) => {
      const dir = join(src, "tasks", name);
      const allowed = [join(src, "core"), dir, join(src, "tasks", "define.js")];
      const violations: string[] = [];
      for (const file of sourceFiles(dir)) {
        for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
          const spec = match[1] ?? match[2]!;
          if (!spec.startsWith(".")) continue;
          const target = resolve(dirname(file), spec);
          if (!allowed.some((a) => target === a || target.startsWith(`${a}/`)))
            violations.push(`${relative(ROOT, file)} imports ${spec}`);
        }
      }
      expect(violations).toEqual([]);
    },
  );
});
