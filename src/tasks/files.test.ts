import { describe, expect, it } from "vitest";
import { parseFiles, renderFiles } from "./files.js";

describe("parseFiles", () => {
  it("reads files named before a block, in the info string, or in a first-line comment", () => {
    const completion = [
      "Here is the module.",
      "",
      "src/app.py:",
      "```python",
      "print('app')",
      "```",
      '```python title="lib/util.py"',
      "X = 1",
      "```",
      "```js",
      "// web/main.js",
      "console.log(1)",
      "```",
    ].join("\n");
    expect(parseFiles(completion)).toEqual({
      files: { "src/app.py": "print('app')\n", "lib/util.py": "X = 1\n", "web/main.js": "console.log(1)\n" },
      method: "named_blocks",
    });
  });

  it("puts an unnamed answer at the task's target path: the last block, else the whole completion", () => {
    expect(parseFiles("First try:\n```\nx = 0\n```\nBetter:\n```python\nx = 1\n```", "solution.py")).toEqual({
      files: { "solution.py": "x = 1\n" },
      method: "single_block",
    });
    expect(parseFiles("def f():\n    return 1", "solution.py")).toEqual({
      files: { "solution.py": "def f():\n    return 1\n" },
      method: "whole_completion",
    });
    expect(parseFiles("no code here")).toEqual({ files: {}, method: "none" });
  });

  it("refuses paths that leave the work dir", () => {
    const r = parseFiles("/tmp/evil.sh\n```\nrm -rf ~\n```\n../up.txt\n```\nx\n```\nok.txt\n```\nfine\n```");
    expect(r.files).toEqual({ "ok.txt": "fine\n" });
    expect(r.rejected).toEqual(["/tmp/evil.sh", "../up.txt"]);
  });

  it("round-trips renderFiles", () => {
    const files = { "a/b.py": "print(1)\n", "c.sh": "echo hi\n", "empty.py": "" };
    expect(parseFiles(renderFiles(files)).files).toEqual({ ...files, "empty.py": "\n" });
  });
});
