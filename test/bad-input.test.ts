import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { qaRows, runCli, testdir } from "./helpers.js";

// Issue 17: bad or unusual input never costs data. Each test is named for the defect it pins.

const config = (extra = "", name = "exp") => `
name: ${name}
task: qa
dataset: data.jsonl
models: [gold]
prompts:
  plain: {user: "{{question}}"}
scorers: [exact]
${extra}`;

const read = (path: string) => readFileSync(path, "utf8");
const json = (path: string) => JSON.parse(read(path));
const jsonl = (path: string) =>
  read(path)
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const trialDir = (exp: string, prefix = "gold__") => {
  const t = readdirSync(exp).find((d) => d.startsWith(prefix));
  if (!t) throw new Error(`no trial ${prefix} in ${exp}`);
  return join(exp, t);
};
/** Every file under `dir` (recursively), for "no temp file left" checks. */
const allFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
/** The error is one line (progress lines may precede it), never a stack trace. */
const oneLine = (r: { stderr: string }) => {
  expect(r.stderr.split("\n").filter((l) => l.startsWith("benchline:"))).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
};

describe("issue 17: paths, placeholders, names and the file system", () => {
  it("17.1: --name .. stays inside --out (and name: . in the file is refused)", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(2), "report.md": "mine\n" });
    for (const name of ["..", ".", "../x", ".cache"]) {
      const r = runCli(["run", "exp.yaml", "--out", "out", "--name", name], dir);
      expect(r.code).toBe(2);
      oneLine(r);
      expect(r.stderr).toContain(`--name: "${name}" cannot be an experiment name`);
    }
    const inFile = testdir({ "exp.yaml": config("", "."), "data.jsonl": qaRows(2) });
    const r = runCli(["run", "exp.yaml"], inFile);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exp\.yaml: name: "\." cannot be an experiment name/);
    expect(read(join(dir, "report.md"))).toBe("mine\n");
    expect(existsSync(join(dir, "out"))).toBe(false);
    expect(existsSync(join(inFile, "runs"))).toBe(false);

    // A trial name read from experiment.json is one directory under the experiment, never more.
    expect(runCli(["run", "exp.yaml"], dir).code).toBe(0);
    const manifest = json(join(dir, "runs/exp/experiment.json"));
    manifest.trials[0].name = "../..";
    writeFileSync(join(dir, "runs/exp/experiment.json"), JSON.stringify(manifest));
    const report = runCli(["report", "runs/exp"], dir);
    expect(report.code).toBe(2);
    expect(report.stderr).toMatch(/experiment\.json: trials: "\.\.\/\.\." is not a directory name/);
    expect(read(join(dir, "report.md"))).toBe("mine\n");
  });

  it("17.2: export -o refuses the dataset, the config and an existing file unless --force", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(3), "old.jsonl": "keep\n" });
    const dataset = read(join(dir, "data.jsonl"));
    const cfg = read(join(dir, "exp.yaml"));
    for (const [target, why] of [
      ["data.jsonl", "is the experiment's dataset"],
      ["exp.yaml", "is the experiment file"],
      ["./sub/../data.jsonl", "is the experiment's dataset"],
    ] as const) {
      mkdirSync(join(dir, "sub"), { recursive: true });
      const r = runCli(["export", "exp.yaml", "-o", target, "--force"], dir);
      expect(r.code).toBe(2);
      oneLine(r);
      expect(r.stderr).toContain(why);
    }
    expect(read(join(dir, "data.jsonl"))).toBe(dataset);
    expect(read(join(dir, "exp.yaml"))).toBe(cfg);
    const existing = runCli(["export", "exp.yaml", "-o", "old.jsonl"], dir);
    expect(existing.code).toBe(2);
    expect(existing.stderr).toMatch(/old\.jsonl: file exists \(--force overwrites it\)/);
    expect(read(join(dir, "old.jsonl"))).toBe("keep\n");
    const forced = runCli(["export", "exp.yaml", "-o", "old.jsonl", "--force"], dir);
    expect(forced.code).toBe(0);
    expect(jsonl(join(dir, "old.jsonl"))).toHaveLength(3);
  });

  it("17.3: malformed placeholders are a config error naming the prompt set and the text", () => {
    for (const [user, text] of [
      ["{{question} and {{ answer", "{{question} and {{ answer"],
      ["Q: {question}} A:", "{question}} A:"],
    ]) {
      const dir = testdir({
        "exp.yaml": config().replace('"{{question}}"', JSON.stringify(user)),
        "data.jsonl": qaRows(2),
      });
      const r = runCli(["run", "exp.yaml"], dir);
      expect(r.code).toBe(2);
      oneLine(r);
      expect(r.stderr).toContain(`exp.yaml: prompts.plain.user: malformed placeholder "${text}"`);
      expect(existsSync(join(dir, "runs"))).toBe(false);
    }
  });

  it("17.4: {{toString}}, {{__proto__}} and {{constructor}} have no value (own fields only)", () => {
    for (const name of ["toString", "__proto__", "constructor"]) {
      const dir = testdir({
        "exp.yaml": config().replace('"{{question}}"', `"{{${name}}}"`),
        "data.jsonl": qaRows(2),
      });
      const r = runCli(["run", "exp.yaml"], dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`prompts.plain.user: {{${name}}} has no value in data.jsonl:1`);
    }
  });

  it("17.5: a different experiment with the same name in one --out is refused; the same one resumes", () => {
    const dir = testdir({
      "a.yaml": config(),
      "b.yaml": config().replace("data.jsonl", "other.jsonl"),
      "data.jsonl": qaRows(3),
      "other.jsonl": qaRows(5, "x"),
    });
    expect(runCli(["run", "a.yaml"], dir).code).toBe(0);
    const before = read(join(dir, "runs/exp/experiment.json"));
    const r = runCli(["run", "b.yaml"], dir);
    expect(r.code).toBe(2);
    oneLine(r);
    expect(r.stderr).toMatch(
      /runs\/exp: already holds experiment "exp" from a\.yaml .*choose another --name or --out/,
    );
    expect(read(join(dir, "runs/exp/experiment.json"))).toBe(before);
    expect(readdirSync(join(dir, "runs/exp")).filter((d) => d.includes("__"))).toHaveLength(1);
    // Kept apart under another name; the same file again (even with more models) resumes.
    expect(runCli(["run", "b.yaml", "--name", "exp-b"], dir).code).toBe(0);
    expect(runCli(["run", "a.yaml", "-m", "gold", "-m", "echo"], dir).code).toBe(0);
    expect(json(join(dir, "runs/exp/experiment.json")).trials).toHaveLength(2);
  });

  it("17.6: report leaves out scores of changed predictions and states what it covers", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(4) });
    expect(runCli(["run", "exp.yaml"], dir).code).toBe(0);
    const trial = trialDir(join(dir, "runs/exp"));
    const preds = jsonl(join(trial, "predictions.jsonl"));
    // A prediction changes after scoring (a merge, a hand edit): its old score must not count.
    writeFileSync(
      join(trial, "predictions.jsonl"),
      `${read(join(trial, "predictions.jsonl"))}${JSON.stringify({ ...preds[0], completion: "wrong" })}\n`,
    );
    const r = runCli(["report", "runs/exp"], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/1 score\(s\) judged an earlier completion and are left out/);
    expect(r.stdout).toMatch(/exact 100\.0%, 0 error\(s\), 3\/4 prediction\(s\) scored/);
    expect(json(join(trial, "summary.json")).scorers.exact).toMatchObject({ n: 3, passed: 3 });
    const md = read(join(dir, "runs/exp/report.md"));
    expect(md).toMatch(/\| 3 \/ 4 \|/);
    expect(md).toMatch(/Not fully scored: .*their means cover the scored predictions only/);
    // Rescoring brings it back in: the wrong completion now scores 0.
    expect(runCli(["run", "exp.yaml", "--phase", "score"], dir).code).toBe(0);
    const again = runCli(["report", "runs/exp"], dir);
    expect(again.stderr).toBe("");
    expect(again.stdout).toMatch(/exact 75\.0%, 0 error\(s\), 4\/4 prediction\(s\) scored/);
  });

  it("17.7: prompts: {} (no trial) is an error", () => {
    const dir = testdir({
      "exp.yaml": config().replace('prompts:\n  plain: {user: "{{question}}"}', "prompts: {}"),
      "data.jsonl": qaRows(2),
    });
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exp\.yaml: prompts: no prompt set/);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("17.8: invalid UTF-8 names file:line; ids above 2^53 are kept as written; pass_at_k above samples warns", () => {
    const rows = qaRows(3).map((r) => JSON.stringify(r));
    const bad = Buffer.concat([
      Buffer.from(`${rows[0]}\n`),
      Buffer.from('{"id": "q1", "question": "caf'),
      Buffer.from([0xe9]), // latin-1 é
      Buffer.from('", "answer": "1"}\n'),
    ]);
    const dir = testdir({ "exp.yaml": config() });
    writeFileSync(join(dir, "data.jsonl"), bad);
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    oneLine(r);
    expect(r.stderr).toMatch(/data\.jsonl:2: not valid UTF-8 \(byte 30 of the line\)/);

    const big = testdir({
      "exp.yaml": config("samples: 2\nstats: {pass_at_k: [1, 5]}"),
      "data.jsonl":
        '{"id": 12345678901234567891, "question": "a", "answer": "1"}\n{"id": 9007199254740993, "question": "b", "answer": "2"}\n',
      "answers.jsonl":
        '{"id": 12345678901234567891, "completion": "1"}\n{"id": 12345678901234567891, "completion": "1"}\n{"id": 9007199254740993, "completion": "2"}\n{"id": 9007199254740993, "completion": "0"}\n',
    });
    const run = runCli(["import", "exp.yaml", "--responses", "answers.jsonl"], big);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/stats\.pass_at_k 5 exceeds samples \(2\)/);
    const trial = trialDir(join(big, "runs/exp"), "import");
    expect(jsonl(join(trial, "prompts.jsonl")).map((p) => p.id)).toEqual([
      "12345678901234567891",
      "9007199254740993",
    ]);
    expect(json(join(trial, "summary.json")).scorers.exact).toMatchObject({ n: 4, passed: 3 });
  });

  it("17.9: a dataset or predictions path that is a directory, --out that is a file, --samples 1e9", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(2), afile: "x\n" });
    mkdirSync(join(dir, "adir"));
    const cases: [string[], RegExp][] = [
      [["run", "exp.yaml", "--out", "afile"], /--out: afile is a file, not a directory/],
      [["run", "exp.yaml", "--out", "afile/deeper"], /--out: afile is a file, not a directory/],
      [["run", "exp.yaml", "--samples", "1e9"], /--samples: 1000000000 is more than 10000 completions/],
      [["import", "exp.yaml", "--responses", "adir"], /adir: is a directory, expected a JSON Lines file/],
    ];
    for (const [args, message] of cases) {
      const r = runCli(args, dir);
      expect(r.code, args.join(" ")).toBe(2);
      oneLine(r);
      expect(r.stderr).toMatch(message);
    }
    const asDir = testdir({ "exp.yaml": config().replace("data.jsonl", "data") });
    mkdirSync(join(asDir, "data"));
    const r = runCli(["run", "exp.yaml"], asDir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^benchline: data: is a directory, expected a JSON Lines file\n$/);
    expect(existsSync(join(dir, "runs"))).toBe(false);
  });

  it("17.9: merge --into a file, export -o into a directory or a missing directory", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(2), afile: "x\n" });
    mkdirSync(join(dir, "adir"));
    expect(runCli(["run", "exp.yaml"], dir).code).toBe(0);
    const cases: [string[], RegExp][] = [
      [["merge", "runs/exp", "--into", "afile"], /afile/],
      [["export", "exp.yaml", "-o", "adir"], /-o adir: is a directory; name a file/],
      [["export", "exp.yaml", "-o", "nope/p.jsonl"], /-o nope\/p\.jsonl: directory nope does not exist/],
    ];
    for (const [args, message] of cases) {
      const r = runCli(args, dir);
      expect(r.code, args.join(" ")).toBe(2);
      oneLine(r);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/internal error|at .*\.ts:\d+/);
    }
    expect(read(join(dir, "afile"))).toBe("x\n");
  });

  it("17.9: an immutable file (chattr +i) is one line naming it, exit 2", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(2) });
    expect(runCli(["run", "exp.yaml"], dir).code).toBe(0);
    const preds = join(trialDir(join(dir, "runs/exp")), "predictions.jsonl");
    execFileSync("chattr", ["+i", preds]);
    try {
      const r = runCli(["run", "exp.yaml", "--samples", "2"], dir);
      expect(r.code).toBe(2);
      oneLine(r);
      expect(r.stderr).toContain(`${preds}: operation not permitted`);
    } finally {
      execFileSync("chattr", ["-i", preds]);
    }
    expect(jsonl(preds)).toHaveLength(2);
  });

  describe("17.9: a full disk (ENOSPC) on a small tmpfs", () => {
    const mounts: string[] = [];
    afterEach(() => {
      for (const m of mounts.splice(0)) execFileSync("umount", [m]);
    });
    const tmpfs = (dir: string, size: string): string => {
      const mnt = join(dir, "disk");
      mkdirSync(mnt);
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt]);
      mounts.push(mnt);
      return mnt;
    };

    it("17.9: a full disk stops the run cleanly, keeps every finished row, and a rerun resumes", () => {
      // 40 items of ~8 KB: prompts and predictions need ~700 KB; the disk has 256 KB.
      const rows = qaRows(40).map((r) => ({ ...r, question: `${r.question} ${"x".repeat(8000)}` }));
      const dir = testdir({ "exp.yaml": config().replace("[gold]", "[echo]"), "data.jsonl": rows });
      const mnt = tmpfs(dir, "256k");
      const r = runCli(["run", "exp.yaml", "--out", mnt, "--no-cache"], dir);
      expect(r.code).toBe(2);
      oneLine(r);
      expect(r.stderr).toMatch(
        /benchline: .*disk\/exp\/echo__plain__[0-9a-f]{8}\/\w+\.jsonl: no space left on the device \(ENOSPC on write\); the run stopped and finished rows are kept/,
      );
      const files = allFiles(mnt);
      expect(files.filter((f) => f.includes(".tmp-"))).toEqual([]);
      for (const f of files.filter((f) => f.endsWith(".jsonl"))) {
        const text = read(f);
        expect(text === "" || text.endsWith("\n"), f).toBe(true);
        jsonl(f); // every row whole
      }
      execFileSync("mount", ["-o", "remount,size=4m", mnt]);
      expect(runCli(["run", "exp.yaml", "--out", mnt, "--no-cache"], dir).code).toBe(0);
      const trial = trialDir(join(mnt, "exp"), "echo__");
      expect(jsonl(join(trial, "predictions.jsonl"))).toHaveLength(40);
      expect(json(join(trial, "summary.json")).predictions.ok).toBe(40);
    });

    it("17.9: a full disk during report is one line and leaves no temp file", () => {
      const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(20) });
      const mnt = tmpfs(dir, "1m");
      expect(runCli(["run", "exp.yaml", "--out", mnt], dir).code).toBe(0);
      const exp = join(mnt, "exp");
      for (const f of ["report.md", "report.html", "predictions.csv", "per_item_scores.csv"])
        rmSync(join(exp, f));
      // Fill the disk to the last byte.
      try {
        execFileSync("dd", ["if=/dev/zero", `of=${join(mnt, "filler")}`, "bs=4k"], { stdio: "ignore" });
      } catch {}
      const r = runCli(["report", exp], dir);
      expect(r.code).toBe(2);
      oneLine(r);
      expect(r.stderr).toMatch(/no space left on the device/);
      expect(allFiles(mnt).filter((f) => f.includes(".tmp-"))).toEqual([]);
      rmSync(join(mnt, "filler"));
      expect(runCli(["report", exp], dir).code).toBe(0);
      expect(statSync(join(exp, "report.html")).size).toBeGreaterThan(0);
    });
  });

  it("17.10: a gzip-compressed dataset is read; a byte-order mark is skipped", () => {
    const text = qaRows(3)
      .map((r) => JSON.stringify(r))
      .join("\n");
    const dir = testdir({ "exp.yaml": config() });
    writeFileSync(join(dir, "data.jsonl"), gzipSync(`${text}\n`));
    const r = runCli(["run", "exp.yaml"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(json(join(trialDir(join(dir, "runs/exp")), "summary.json")).items).toBe(3);

    const bom = testdir({ "exp.yaml": config() });
    writeFileSync(join(bom, "data.jsonl"), `\ufeff${text}\n`);
    expect(runCli(["run", "exp.yaml"], bom).code).toBe(0);
    expect(jsonl(join(trialDir(join(bom, "runs/exp")), "prompts.jsonl"))[0].id).toBe("q0");
  });

  it("17.scale-a: comparisons are each trial against the baseline by default, every pair on request", () => {
    const dir = testdir({
      "exp.yaml": config("stats: {iterations: 200}").replace(
        "[gold]",
        "[gold, echo, {id: e2, provider: echo}, {id: e3, provider: echo}]",
      ),
      "data.jsonl": qaRows(4),
    });
    expect(runCli(["run", "exp.yaml"], dir).code).toBe(0);
    const cmp = json(join(dir, "runs/exp/comparison.json"));
    expect(cmp).toMatchObject({ pairs: "baseline", baseline: "gold" });
    expect(cmp.comparisons).toHaveLength(3);
    expect(cmp.comparisons.every((c: { trial_a: string }) => c.trial_a.startsWith("gold__"))).toBe(true);
    expect(runCli(["report", "runs/exp", "--all-pairs"], dir).code).toBe(0);
    expect(json(join(dir, "runs/exp/comparison.json")).comparisons).toHaveLength(6);
    const named = testdir({
      "exp.yaml": config("stats: {iterations: 200, baseline: nobody}"),
      "data.jsonl": qaRows(2),
    });
    const r = runCli(["run", "exp.yaml"], named);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stats\.baseline: no model "nobody"/);
  });

  it("17.scale-c: the dataset is streamed (ids kept, samples read again): --limit, --parts and --ids select the same rows, gold scores from the re-read sample, and a bad row anywhere stops the run before any file", () => {
    const dir = testdir({ "exp.yaml": config(), "data.jsonl": qaRows(9), "ids.txt": "q2\nq5\nq7\nnope\n" });
    const prompts = () =>
      jsonl(join(trialDir(join(dir, "runs/exp")), "prompts.jsonl")).map((p) => [p.id, p.index, p.user]);
    // Round robin over the first 6 rows: part 2 of 2 is rows 1, 3 and 5.
    let r = runCli(
      ["run", "exp.yaml", "--phase", "prompts", "--limit", "6", "--parts", "2", "--part", "2"],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(prompts()).toEqual([
      ["q1", 1, "What is 1 plus one?"],
      ["q3", 3, "What is 3 plus one?"],
      ["q5", 5, "What is 5 plus one?"],
    ]);
    rmSync(join(dir, "runs"), { recursive: true });
    r = runCli(["run", "exp.yaml", "--ids", "ids.txt"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ids\.txt: 1 ids are not in data\.jsonl \(nope\)/);
    expect(prompts().map(([id]) => id)).toEqual(["q2", "q5", "q7"]);
    const trial = trialDir(join(dir, "runs/exp"));
    expect(jsonl(join(trial, "predictions.jsonl")).map((p) => [p.id, p.completion])).toEqual([
      ["q2", "3"],
      ["q5", "6"],
      ["q7", "8"],
    ]);
    expect(json(join(trial, "summary.json")).mean_score).toBe(1);

    // A placeholder without a value on the last row, a duplicate beyond --limit: nothing written.
    const rows = qaRows(9);
    const { category: _, ...last } = rows[8]!;
    const bad = testdir({
      "exp.yaml": config().replace('"{{question}}"', '"{{category}}: {{question}}"'),
      "data.jsonl": [...rows.slice(0, 8), last],
    });
    r = runCli(["run", "exp.yaml"], bad);
    expect(r.code).toBe(2);
    oneLine(r);
    expect(r.stderr).toContain('{{category}} has no value in data.jsonl:9 (id "q8")');
    expect(existsSync(join(bad, "runs"))).toBe(false);
    const dup = testdir({ "exp.yaml": config(), "data.jsonl": [...qaRows(9), qaRows(1)[0]!] });
    r = runCli(["run", "exp.yaml", "--limit", "2"], dup);
    expect(r.code).toBe(2);
    oneLine(r);
    expect(r.stderr).toContain('data.jsonl:10: duplicate id "q0" (first at data.jsonl:1)');
    expect(existsSync(join(dup, "runs"))).toBe(false);
  });
});
