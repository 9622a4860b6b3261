/**
 * Test logs to per-test statuses, as SWE-bench's parsers read them: pytest `-rA` summary lines
 * ("PASSED path::test", "FAILED path::test - message") and the unittest / Django runner's verbose
 * lines ("test_x (module.Class) ... ok", with the docstring variant on the next line).
 */

export type TestStatus = "PASSED" | "FAILED" | "SKIPPED" | "ERROR" | "XFAIL";

const PYTEST = ["PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL"] as const;

export function parsePytest(log: string): Record<string, TestStatus> {
  const out: Record<string, TestStatus> = {};
  for (let line of log.split("\n")) {
    const status = PYTEST.find((s) => line.startsWith(s));
    if (!status) continue;
    if (status === "FAILED") line = line.replace(" - ", " ");
    const parts = line.trim().split(/\s+/);
    if (parts.length <= 1) continue;
    out[parts[1] as string] = parts[0] as TestStatus;
  }
  return out;
}

const UNITTEST =
  /^(\S+ \([\w.]+\))(?: \.\.\. |\n.*? \.\.\. )(ok|OK|FAIL|ERROR|skipped.*|expected failure|unexpected success)\s*$/;

/** unittest (`-v`) and Django's runner (`--verbosity 2`). */
export function parseUnittest(log: string): Record<string, TestStatus> {
  const out: Record<string, TestStatus> = {};
  const lines = log.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    let m = UNITTEST.exec(line);
    // A docstring line between the test name and its result.
    if (!m && /^\S+ \([\w.]+\)$/.test(line) && i + 1 < lines.length)
      m = UNITTEST.exec(`${line} ... ${(lines[i + 1] as string).split(" ... ").at(-1)}`);
    if (!m) {
      const error = /^(ERROR|FAIL): (\S+ \([\w.]+\))/.exec(line);
      if (error) out[error[2] as string] = error[1] === "ERROR" ? "ERROR" : "FAILED";
      continue;
    }
    const result = m[2] as string;
    out[m[1] as string] =
      result === "ok" || result === "OK"
        ? "PASSED"
        : result === "FAIL" || result === "unexpected success"
          ? "FAILED"
          : result === "ERROR"
            ? "ERROR"
            : result === "expected failure"
              ? "XFAIL"
              : "SKIPPED";
  }
  return out;
}

export type LogFormat = "pytest" | "unittest" | "django";

export function parseTestLog(log: string, format: LogFormat): Record<string, TestStatus> {
  return format === "pytest" ? parsePytest(log) : parseUnittest(log);
}
