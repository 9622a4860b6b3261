import type { ExecuteContext, ExecutionOutcome, StepResult } from "../../core/index.js";
import { gradeTestStep, type HarnessSpec, harnessReport, shellQuote } from "./harness.js";
import { patchPaths, symlinkCheck, unsafePatchReason } from "./patch-paths.js";

/**
 * The patch harness inside an instance's own image, SWE-bench's way: one fresh container from
 * the image (`sweb.eval.x86_64.{instance_id}`), the repository at `/testbed` as the image holds
 * it. In the container, as steps: check that /testbed is at base_commit, apply and commit the
 * shown edits, run the apply chain on the model patch (the host harness's chain, the tree reset
 * between tries by restoring the patch's paths from that commit), reset the test files and apply
 * `test_patch`, then run the test command. The container is removed afterwards.
 */

export type DockerHarnessSpec = Omit<HarnessSpec, "clone" | "base_commit"> & {
  image: string;
  /** When given, /testbed must be at it. */
  base_commit?: string;
};

/** Where SWE-bench images keep the repository. */
export const imageRepoDir = "/testbed";

const marker = ">>>>> benchline";
const git = "git -c core.fileMode=false -c advice.detachedHead=false";

export async function runDockerHarness(
  patch: string | null,
  spec: DockerHarnessSpec,
  ctx: Pick<ExecuteContext<unknown>, "sandbox" | "timeoutMs" | "limits" | "signal">,
): Promise<ExecutionOutcome> {
  const { report, outcome } = harnessReport(patch, spec.instance_id, { image: spec.image });
  if (!report.patch_exists) return outcome([], patch === null ? "no completion" : "empty patch");
  const refused = unsafePatchReason(patch as string);
  if (refused) return outcome([], `patch refused: ${refused}`);

  const paths = patchPaths(patch as string).paths;
  const testFiles = patchPaths(spec.test_patch).paths;
  const files: Record<string, string> = { "model.patch": patch as string, "test.patch": spec.test_patch };
  const shown = spec.pre_edits.filter((e) => e.trim() !== "");
  for (const [i, edit] of shown.entries()) files[`shown-${i + 1}.patch`] = `${edit}\n`;
  const command = spec.test_command.replaceAll("{tests}", testFiles.map(shellQuote).join(" "));
  const result = await ctx.sandbox.run(
    [
      { name: "setup", command: setupScript(spec, shown, paths) },
      { name: "apply", command: applyScript(paths) },
      { name: "reset tests", command: resetTestsScript(testFiles, spec.test_patch.trim() !== "") },
      { name: "tests", command },
    ],
    {
      image: spec.image,
      imageWorkdir: imageRepoDir,
      files,
      env: { PYTHONDONTWRITEBYTECODE: "1" },
      timeoutMs: ctx.timeoutMs,
      stopOnFailure: true,
      ...(ctx.limits ? { limits: ctx.limits } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    },
  );
  const [setup, apply, reset, test] = result.steps;
  const timedOut = result.steps.some((s) => s.timed_out);
  if (setup?.exit_code === 3) return outcome(result.steps, `patch refused: ${setup.stderr.trim()}`);
  if (setup?.exit_code !== 0)
    throw new Error(
      `${spec.instance_id}: setting up ${imageRepoDir} in ${spec.image} failed${setup?.timed_out ? " (timed out)" : ""}: ${tail(setup)}`,
    );
  const tries = parseTries(apply?.stdout ?? "");
  const applied = /^>>>>> benchline applied (.+)$/m.exec(apply?.stdout ?? "")?.[1];
  if (apply?.exit_code !== 0 || applied === undefined)
    return outcome(result.steps, apply?.timed_out ? "patch application timed out" : "patch does not apply", {
      apply: tries,
      tree: "docker",
    });
  report.patch_successfully_applied = true;
  if (reset?.exit_code !== 0)
    throw new Error(`${spec.instance_id}: test_patch does not apply in ${spec.image}: ${tail(reset)}`);

  const { statuses, failure } = gradeTestStep(test, spec, report);
  return outcome(result.steps, failure, {
    tree: "docker",
    apply: tries,
    applied_with: applied,
    tests: statuses,
    ...(timedOut ? { timed_out: true } : {}),
  });
}

// ---------------------------------------------------------------- internal helpers

/**
 * /testbed at base_commit (when the record names one), the model patch's paths free of symlinks,
 * the shown edits applied and committed: that commit is what each try and the test reset restore.
 */
function setupScript(spec: DockerHarnessSpec, shown: string[], paths: string[]): string {
  const lines = [`cd ${imageRepoDir} || exit 2`];
  if (spec.base_commit) {
    const base = shellQuote(spec.base_commit);
    lines.push(
      `want=$(${git} rev-parse --verify -q ${base}^{commit}) || { echo "base_commit ${spec.base_commit} is not in ${imageRepoDir}" >&2; exit 2; }`,
      `head=$(${git} rev-parse HEAD) || exit 2`,
      `[ "$head" = "$want" ] || { echo "${imageRepoDir} is at $head, not base_commit $want" >&2; exit 2; }`,
    );
  }
  // The index's stat data is stale in a container's copy of the files (`git apply --3way` would
  // see "does not match index"): refresh it.
  lines.push(`${git} update-index -q --refresh >/dev/null 2>&1`);
  lines.push(symlinkCheck(paths, shellQuote));
  for (let i = 1; i <= shown.length; i++)
    lines.push(
      `${git} apply --whitespace=nowarn /sandbox/shown-${i}.patch || { echo "shown step ${i} does not apply" >&2; exit 2; }`,
    );
  // Only the shown edits' paths are committed (an image's untracked build output stays as it is).
  const edited = [...new Set(shown.flatMap((e) => patchPaths(e).paths))].map(shellQuote).join(" ");
  if (shown.length > 0)
    lines.push(
      `${git} add -A -- ${edited} && ${git} -c user.name=benchline -c user.email=benchline@localhost -c commit.gpgsign=false commit -q --no-verify -m "benchline: shown edits" || exit 2`,
    );
  return lines.join("\n");
}

/**
 * The host harness's apply chain in sh, a marker line per try; the tree is restored between
 * tries. Exits 0 after the first success ("applied" marker), 1 when nothing applied.
 */
function applyScript(paths: string[]): string {
  const quoted = paths.map(shellQuote).join(" ");
  const p = "/sandbox/model.patch";
  return [
    `restore() { for f in ${quoted}; do ${git} checkout -q HEAD -- "$f" 2>/dev/null || { rm -rf -- "$f"; ${git} rm -q --cached --ignore-unmatch -- "$f" >/dev/null 2>&1; }; rm -f -- "$f.rej" "$f.orig"; done; }`,
    `try() { echo "${marker} try $1"; shift; out=$("$@" 2>&1); code=$?; printf '%s\\n' "$out"; echo "${marker} exit $code"; return $code; }`,
    `done_() { echo "${marker} applied $1"; exit 0; }`,
    `try "git apply" ${git} apply --verbose --whitespace=nowarn ${p} && done_ "git apply"`,
    `try "already applied" ${git} apply --reverse --check --whitespace=nowarn ${p} && done_ "already applied"`,
    `try "git apply --3way" ${git} apply --3way --verbose --whitespace=nowarn ${p} && done_ "git apply --3way"`,
    "restore",
    `try "git apply --reject" ${git} apply --verbose --whitespace=nowarn --reject ${p} && done_ "git apply --reject"`,
    "restore",
    `try "patch --fuzz=5" patch --batch --forward --fuzz=5 -p1 -i ${p} && done_ "patch --fuzz=5"`,
    // Exit 1 with every unapplied hunk "ignored" (already there) and none FAILED: the whole change is in.
    `if [ "$code" = 1 ] && printf '%s' "$out" | grep -Eq 'hunks? ignored' && ! printf '%s' "$out" | grep -Eiq "FAILED|can't find file|malformed|Only garbage|No file to patch"; then done_ "patch --forward"; fi`,
    "restore",
    "exit 1",
  ].join("\n");
}

/** The test files as the instance defines them, whatever the patch did: restored, then test_patch. */
function resetTestsScript(testFiles: string[], hasPatch: boolean): string {
  const lines = testFiles.map((f) => {
    const q = shellQuote(f);
    return `${git} checkout -q HEAD -- ${q} 2>/dev/null || rm -rf -- ${q}`;
  });
  if (hasPatch) lines.push(`${git} apply --verbose --whitespace=nowarn /sandbox/test.patch`);
  return lines.length > 0 ? lines.join("\n") : "true";
}

function parseTries(stdout: string): { method: string; ok: boolean; output: string }[] {
  const tries: { method: string; ok: boolean; output: string }[] = [];
  const re = /^>>>>> benchline try (.+)\n([\s\S]*?)^>>>>> benchline exit (\d+)$/gm;
  for (const m of stdout.matchAll(re))
    tries.push({ method: m[1] as string, ok: m[3] === "0", output: (m[2] as string).slice(0, 4000) });
  return tries;
}

function tail(step: StepResult | undefined): string {
  return `${step?.stderr ?? ""}${step?.stdout ?? ""}`.trim().slice(-400) || "(no output)";
}
