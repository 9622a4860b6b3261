import { describe, expect, it } from "vitest";
import { parseCompletion } from "./extract.js";
import { applyHunks, type Problem } from "./records.js";

const problem = (expected: string[], cid = 3): Problem => ({
  id: "p",
  cid,
  difficulty: "easy",
  agentic: false,
  prompt: "",
  context: {},
  expected: Object.fromEntries(expected.map((f) => [f, "x"])),
  response: "",
  harness: {},
});

describe("cvdp completion → files", () => {
  it("one expected file: the first fenced block (CVDP's regex, language tag dropped), else the stripped text", () => {
    const one = problem(["rtl/a.sv"]);
    expect(
      parseCompletion("Intro\n```verilog\nmodule a; endmodule\n```\n```\nsecond\n```", one).files,
    ).toEqual({
      "rtl/a.sv": "module a; endmodule\n",
    });
    // no language tag: the newline after the fence stays, as in CVDP
    expect(parseCompletion("```\nmodule a;\n```", one).files["rtl/a.sv"]).toBe("\nmodule a;\n");
    expect(parseCompletion("  \n module a; endmodule \n\n", one)).toMatchObject({
      files: { "rtl/a.sv": "module a; endmodule" },
      method: "text",
    });
  });

  it("several files: JSON parsed as JSON (escaped newlines kept), unexpected paths ignored", () => {
    const two = problem(["rtl/a.sv", "rtl/b.sv"]);
    const answer = JSON.stringify({
      code: [
        { "rtl/a.sv": 'module a;\n  // "quoted"\nendmodule\n' },
        { "./rtl/b.sv": "b" },
        { "src/conftest.py": "x" },
      ],
    });
    expect(parseCompletion(`Sure:\n\`\`\`json\n${answer}\n\`\`\``, two)).toEqual({
      files: { "rtl/a.sv": 'module a;\n  // "quoted"\nendmodule\n', "rtl/b.sv": "b" },
      ignored: ["src/conftest.py"],
      method: "json",
    });
    expect(parseCompletion("not json at all", two)).toMatchObject({ files: {}, method: "unparsed" });
  });

  it("comprehension: the JSON response (its first fenced block if any), else the text itself", () => {
    const qa = problem([], 9);
    expect(parseCompletion('{"response": "Because."}', qa).response).toBe("Because.");
    expect(parseCompletion("Because, plainly.", qa)).toMatchObject({
      response: "Because, plainly.",
      method: "unparsed",
    });
  });
});

describe("cvdp agentic patches (CVDP's diff_apply)", () => {
  it("creates a new file and edits an existing one", () => {
    expect(applyHunks("", "@@ -0,0 +1,2 @@\n+line 1\n+line 2")).toBe("line 1\nline 2\n");
    const text = "a\nb\nc\nd\n";
    expect(applyHunks(text, "--- a/f\n+++ b/f\n@@ -2,2 +2,2 @@\n-b\n+B\n c\n")).toBe("a\nB\nc\nd\n");
  });
});
