import type { TestStatus } from "./log-parsers.js";

/**
 * SWE-bench's grading: a FAIL_TO_PASS or PASS_TO_PASS test succeeds when its status is PASSED
 * or XFAIL; a test missing from the log fails. Resolved = every FAIL_TO_PASS and every
 * PASS_TO_PASS test succeeds.
 */

export interface TestsStatus {
  FAIL_TO_PASS: { success: string[]; failure: string[] };
  PASS_TO_PASS: { success: string[]; failure: string[] };
  FAIL_TO_FAIL: { success: string[]; failure: string[] };
  PASS_TO_FAIL: { success: string[]; failure: string[] };
}

/** One instance's entry of SWE-bench's `report.json`. */
export interface InstanceReport {
  patch_is_None: boolean;
  patch_exists: boolean;
  patch_successfully_applied: boolean;
  resolved: boolean;
  tests_status?: TestsStatus;
}

const ok = (s: TestStatus | undefined): boolean => s === "PASSED" || s === "XFAIL";

export function gradeTests(
  statuses: Record<string, TestStatus>,
  failToPass: string[],
  passToPass: string[],
): { tests_status: TestsStatus; resolved: boolean } {
  const split = (tests: string[]) => ({
    success: tests.filter((t) => ok(statuses[t])),
    failure: tests.filter((t) => !ok(statuses[t])),
  });
  const tests_status: TestsStatus = {
    FAIL_TO_PASS: split(failToPass),
    PASS_TO_PASS: split(passToPass),
    FAIL_TO_FAIL: { success: [], failure: [] },
    PASS_TO_FAIL: { success: [], failure: [] },
  };
  const resolved =
    tests_status.FAIL_TO_PASS.failure.length === 0 && tests_status.PASS_TO_PASS.failure.length === 0;
  return { tests_status, resolved };
}

/** What the run report needs from one execution. */
export interface GradedInstance {
  instance_id: string;
  /** Undefined: the execution itself failed (an error row). */
  report?: InstanceReport;
  error?: boolean;
}

/** SWE-bench's run report (`schema_version: 2`). */
export function runReport(ids: string[], graded: GradedInstance[]) {
  const byId = new Map(graded.map((g) => [g.instance_id, g]));
  const list = (pred: (g: GradedInstance) => boolean) =>
    ids.filter((id) => {
      const g = byId.get(id);
      return g !== undefined && pred(g);
    });
  const submitted = list(() => true);
  const empty = list((g) => g.report?.patch_exists === false);
  const errors = list((g) => g.error === true);
  const completed = list((g) => !g.error && g.report?.patch_exists === true);
  const resolved = list((g) => g.report?.resolved === true);
  const unresolved = completed.filter((id) => !resolved.includes(id));
  const incomplete = ids.filter((id) => !byId.has(id));
  return {
    total_instances: ids.length,
    submitted_instances: submitted.length,
    completed_instances: completed.length,
    resolved_instances: resolved.length,
    unresolved_instances: unresolved.length,
    empty_patch_instances: empty.length,
    error_instances: errors.length,
    completed_ids: completed,
    incomplete_ids: incomplete,
    empty_patch_ids: empty,
    submitted_ids: submitted,
    resolved_ids: resolved,
    unresolved_ids: unresolved,
    error_ids: errors,
    schema_version: 2,
  };
}
