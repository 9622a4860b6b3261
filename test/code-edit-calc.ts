import { fileDiff } from "./code-edit-repo.js";

/** The calc fixture the code-edit CLI tests share: one EditBench and one SWE-bench instance. */

export const C0 =
  "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n";
export const C1b =
  "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n";
export const C2 = C1b.replace("def add(a, b):\n    return a - b", "def add(a, b):\n    return a + b");
export const C3 = `"""Arithmetic."""\n\n${C2}`;
export const T0 = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n";
export const T1 =
  "from calc import add, mul, sub\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\ndef test_sub():\n    assert sub(3, 1) == 2\n";
/** Comment lines that `extract_diff` would misread in a raw patch (a fence, a tag block). */
export const TRICKY = "\n\n# Example:\n# ```py\n# <b>add</b>(1, 2)\n# ```\n";
const strip = (d: string) => d.replace(/\n$/, "");

/** The two instances; `tricky` gives the SWE-bench one a reference patch with a fence and a tag. */
export const calcRows = (commit: string, tricky = false) => [
  {
    instance_id: "demo__calc-pull-1",
    repo: "demo/calc",
    base_commit: commit,
    title_mes: "Fix add and sub",
    body_mes: "Both were wrong.",
    issues_mes: "",
    files_work: ["calc.py"],
    work_patch_list: [
      [strip(fileDiff("calc.py", C0, C1b))],
      [strip(fileDiff("calc.py", C1b, C2))],
      [strip(fileDiff("calc.py", C2, C3))],
    ],
    test_patch: fileDiff("tests/test_calc.py", T0, T1),
    fail_to_pass: ["tests/test_calc.py::test_add", "tests/test_calc.py::test_sub"],
    pass_to_pass: ["tests/test_calc.py::test_mul"],
  },
  {
    instance_id: "demo__calc-2",
    repo: "demo/calc",
    base_commit: commit,
    patch: fileDiff(
      "calc.py",
      C0,
      C1b.replace("return a - b\n\n\ndef sub", "return a + b\n\n\ndef sub") + (tricky ? TRICKY : ""),
    ),
    problem_statement: "add and sub are wrong",
    hints_text: "",
    test_patch: fileDiff("tests/test_calc.py", T0, T1),
    FAIL_TO_PASS: JSON.stringify(["tests/test_calc.py::test_add", "tests/test_calc.py::test_sub"]),
    PASS_TO_PASS: JSON.stringify(["tests/test_calc.py::test_mul"]),
  },
];
