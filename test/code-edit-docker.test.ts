import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerJson } from "../src/sandbox/docker-api.js";
import { startTestDockerd, type TestDocker } from "../src/sandbox/test-utils/dockerd.js";
import { C0, calcRows, T0 } from "./code-edit-calc.js";
import { canBuildCodeEditImage, importCodeEditImage, tagImage } from "./code-edit-image.js";
import { fileDiff, git, makeRepo } from "./code-edit-repo.js";
import { runCliAsync, testdir } from "./helpers.js";

/**
 * code-edit with `execution: {sandbox: docker, image: "…{instance_id}"}`: each instance runs in
 * its own image, SWE-bench's way (the repository at /testbed, the patch applied inside). A
 * private dockerd (started here) and an image imported here with no registry: the host's static
 * busybox, Python with pytest, git and patch, and the test repository at /testbed, tagged once per
 * instance under the names the template gives.
 */

const present = canBuildCodeEditImage();
if (!present)
  console.warn("skipping code-edit docker test: needs busybox-static, python3.11 and patch on the host");

const prefix = "benchline-test/sweb.eval.x86_64";
let docker: TestDocker | undefined;
let repo: { dir: string; commit: string };

beforeAll(async () => {
  if (!present) return;
  const started = await startTestDockerd();
  if (!started.ok) {
    console.warn(`skipping code-edit docker test: ${started.reason}`);
    return;
  }
  docker = started.docker;
  repo = makeRepo({ "calc.py": C0, "tests/__init__.py": "", "tests/test_calc.py": T0 });
  // A symlink out of the repository, for the refusal test.
  symlinkSync("/tmp", join(repo.dir, "outside"));
  git(repo.dir, ["add", "outside"]);
  git(repo.dir, ["commit", "-qm", "link"]);
  repo.commit = git(repo.dir, ["rev-parse", "HEAD"]).trim();
  const tag = await importCodeEditImage(docker.socketPath, repo.dir);
  // One name per instance, as SWE-bench's images are named; "partial" lacks the first instance.
  for (const id of ["demo__calc-pull-1", "demo__calc-2"])
    await tagImage(docker.socketPath, tag, `${prefix}.${id}`);
  await tagImage(docker.socketPath, tag, "benchline-test/partial.demo__calc-2");
}, 300_000);
afterAll(async () => {
  await docker?.stop();
});

const lines = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

function executionsOf(dir: string, name: string) {
  const exp = join(dir, "runs", name);
  const trials = readdirSync(exp).filter((d) => d.includes("__"));
  const rows = trials.flatMap((t) => lines(join(exp, t, "executions.jsonl")));
  return new Map(rows.map((e) => [e.id as string, e]));
}

function experiment(name: string, image: string, extra = "", task = "") {
  const data = calcRows(repo.commit);
  return testdir({
    "data.jsonl": data,
    "exp.yaml": [
      `name: ${name}`,
      `task: {name: code-edit, repos: {demo/calc: ${repo.dir}}, variants: ["0.4"]${task}}`,
      "dataset: data.jsonl",
      "models: [gold]",
      `execution: {sandbox: docker, image: "${image}", docker_host: "unix://${docker?.socketPath}", timeout: 60, concurrency: 2${extra}}`,
      "",
    ].join("\n"),
  });
}

async function containers(): Promise<unknown[]> {
  return dockerJson<unknown[]>(
    { socketPath: docker?.socketPath as string },
    {
      method: "GET",
      path: `/containers/json?all=true&filters=${encodeURIComponent('{"label":["benchline.sandbox"]}')}`,
    },
  );
}

describe.skipIf(!present)("code-edit in an image per instance (docker)", () => {
  it("gold resolves every instance in its own image: shown edits applied in /testbed, tests run there, containers removed", async (ctx) => {
    if (!docker) return ctx.skip();
    const dir = experiment("gold", `${prefix}.{instance_id}`);
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code, r.stderr).toBe(0);
    const executions = executionsOf(dir, "gold");
    expect(executions.size).toBe(2);
    for (const id of ["demo__calc-pull-1", "demo__calc-2"]) {
      const e = executions.get(id);
      expect(e, id).toMatchObject({
        passed: true,
        applied: true,
        applied_with: "git apply",
        tree: "docker",
        image: `${prefix}.${id}`,
        sandbox: `docker:${prefix}.{instance_id}`,
      });
      expect(e.report[id]).toMatchObject({ patch_successfully_applied: true, resolved: true });
      expect(e.report[id].tests_status.FAIL_TO_PASS.success).toEqual([
        "tests/test_calc.py::test_add",
        "tests/test_calc.py::test_sub",
      ]);
      expect(e.steps.map((s: { name: string }) => s.name)).toEqual([
        "setup",
        "apply",
        "reset tests",
        "tests",
      ]);
      // The tests ran in the container's /testbed (pytest prints its rootdir).
      expect(e.steps[3].stdout).toContain("rootdir: /testbed");
    }
    expect(await containers()).toEqual([]);
  }, 300_000);

  it("a malformed patch does not apply (every try recorded); a patch editing the tests is not resolved", async (ctx) => {
    if (!docker) return ctx.skip();
    const dir = experiment("bad", `${prefix}.{instance_id}`);
    const cheat = fileDiff(
      "tests/test_calc.py",
      T0,
      "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n\n\ndef test_add():\n    pass\n\n\ndef test_sub():\n    pass\n",
    );
    const broken =
      "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n garbage\n";
    const predictions = [
      { instance_id: "demo__calc-2", model_name_or_path: "m", model_patch: broken },
      { instance_id: "demo__calc-pull-1", model_name_or_path: "m", model_patch: cheat },
    ];
    writeFileSync(join(dir, "preds.jsonl"), `${predictions.map((p) => JSON.stringify(p)).join("\n")}\n`);
    const r = await runCliAsync(["execute", "exp.yaml", "--predictions", "preds.jsonl", "-p", "0.4"], dir);
    expect(r.code, r.stderr).not.toBe(2);
    const executions = executionsOf(dir, "bad");
    const bad = executions.get("demo__calc-2");
    expect(bad).toMatchObject({ passed: false, applied: false, failure_reason: "patch does not apply" });
    expect(bad.apply.map((t: { method: string }) => t.method)).toEqual([
      "git apply",
      "already applied",
      "git apply --3way",
      "git apply --reject",
      "patch --fuzz=5",
    ]);
    expect(bad.apply.every((t: { ok: boolean }) => !t.ok)).toBe(true);
    expect(bad.steps.map((s: { name: string }) => s.name)).toEqual(["setup", "apply"]);
    const cheated = executions.get("demo__calc-pull-1");
    expect(cheated).toMatchObject({ passed: false, applied: true, applied_with: "git apply" });
    expect(cheated.report["demo__calc-pull-1"].resolved).toBe(false);
    // test_patch's tests ran, not the patch's: test_add fails (add is still wrong after the shown edit).
    expect(cheated.report["demo__calc-pull-1"].tests_status.FAIL_TO_PASS.failure).toContain(
      "tests/test_calc.py::test_add",
    );
    expect(await containers()).toEqual([]);
  }, 300_000);

  it("in the container a patch with wrong context applies only with patch --fuzz and resolves; one through a symlink of /testbed is refused", async (ctx) => {
    if (!docker) return ctx.skip();
    const dir = experiment("chain", `${prefix}.{instance_id}`);
    const gold = calcRows(repo.commit)[1]?.patch as string;
    const fuzzy = gold.replace(" def add(a, b):", " def add(x, y):");
    expect(fuzzy).not.toBe(gold);
    const through =
      "diff --git a/outside/evil.py b/outside/evil.py\nnew file mode 100644\n--- /dev/null\n+++ b/outside/evil.py\n@@ -0,0 +1 @@\n+x = 1\n";
    const predictions = [
      { instance_id: "demo__calc-2", model_name_or_path: "m", model_patch: fuzzy },
      { instance_id: "demo__calc-pull-1", model_name_or_path: "m", model_patch: through },
    ];
    writeFileSync(join(dir, "preds.jsonl"), `${predictions.map((p) => JSON.stringify(p)).join("\n")}\n`);
    const r = await runCliAsync(["execute", "exp.yaml", "--predictions", "preds.jsonl", "-p", "0.4"], dir);
    expect(r.code, r.stderr).not.toBe(2);
    const executions = executionsOf(dir, "chain");
    const fuzz = executions.get("demo__calc-2");
    expect(fuzz).toMatchObject({ passed: true, applied: true, applied_with: "patch --fuzz=5" });
    expect(fuzz.apply.map((t: { method: string; ok: boolean }) => [t.method, t.ok])).toEqual([
      ["git apply", false],
      ["already applied", false],
      ["git apply --3way", false],
      ["git apply --reject", false],
      ["patch --fuzz=5", true],
    ]);
    expect(fuzz.report["demo__calc-2"].resolved).toBe(true);
    const refused = executions.get("demo__calc-pull-1");
    expect(refused).toMatchObject({ passed: false, applied: false });
    expect(refused.failure_reason).toBe(
      'patch refused: path goes through a symbolic link: "outside/evil.py"',
    );
    expect(refused.steps.map((s: { name: string }) => s.name)).toEqual(["setup"]);
    expect(await containers()).toEqual([]);
  }, 300_000);

  it("a missing image is one config error up front listing it, before any model is called", async (ctx) => {
    if (!docker) return ctx.skip();
    const dir = experiment("partial", "benchline-test/partial.{instance_id}");
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("1 of 2 docker images are not on the daemon");
    expect(r.stderr).toContain("benchline-test/partial.demo__calc-pull-1");
    expect(r.stderr).not.toContain("partial.demo__calc-2,");
    expect(existsSync(join(dir, "runs"))).toBe(false);

    // A task that runs one image for all rows does not take a template: rejected, not ignored.
    const shell = testdir({
      "exp.yaml": `name: sh\ntask: shell\ndataset: data.jsonl\nmodels: [gold]\nexecution: {sandbox: docker, image: "${prefix}.{instance_id}", docker_host: "unix://${docker.socketPath}"}\n`,
      "data.jsonl": [{ task: "t", success_condition: "true", reference: "true" }],
    });
    const sh = await runCliAsync(["run", "exp.yaml"], shell);
    expect(sh.code).toBe(2);
    expect(sh.stderr).toContain(
      "is a template (one image per instance), which the shell task does not expand",
    );

    const unknown = experiment("unknown", "x.{nope}");
    const u = await runCliAsync(["run", "exp.yaml"], unknown);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("unknown placeholder {nope}");
  }, 120_000);

  it("a hanging test is killed at execution.timeout and recorded", async (ctx) => {
    if (!docker) return ctx.skip();
    const dir = experiment("hang", `${prefix}.{instance_id}`, "", ', test_command: "sleep 60"');
    writeFileSync(
      join(dir, "exp.yaml"),
      readFileSync(join(dir, "exp.yaml"), "utf8").replace("timeout: 60", "timeout: 3"),
    );
    writeFileSync(join(dir, "ids.txt"), "demo__calc-2\n");
    const started = Date.now();
    const h = await runCliAsync(["run", "exp.yaml", "--ids", "ids.txt"], dir);
    expect(h.code, h.stderr).not.toBe(2);
    const e = executionsOf(dir, "hang").get("demo__calc-2");
    expect(e).toMatchObject({
      passed: false,
      applied: true,
      timed_out: true,
      failure_reason: "tests timed out",
    });
    expect(Date.now() - started).toBeLessThan(120_000);
    expect(await containers()).toEqual([]);
  }, 300_000);
});
