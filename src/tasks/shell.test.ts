import { describe, expect, it } from "vitest";
import { parseShellCommand, shellTask } from "./shell.js";

describe("parseShellCommand", () => {
  it.each([
    [
      "a fenced block",
      "Here you go:\n```bash\nls -la | wc -l\n```\nThat counts files.",
      { command: "ls -la | wc -l", method: "fenced" },
    ],
    [
      "a fenced block with $ prompts",
      "```\n$ mkdir -p a/b\n```",
      { command: "mkdir -p a/b", method: "fenced" },
    ],
    [
      "a $ prompt line",
      "Run this:\n$ tar -czf x.tgz site\nand you are done",
      { command: "tar -czf x.tgz site", method: "prompt" },
    ],
    [
      "JSON",
      '{"command": "sort -u a > b", "explanation": "dedupe"}',
      { command: "sort -u a > b", method: "json" },
    ],
    [
      "the first non-empty line",
      "\n\n  touch notes.txt  \nThis creates the file.",
      { command: "touch notes.txt", method: "first_line" },
    ],
    ["an inline-code first line", "`pwd > where.txt`", { command: "pwd > where.txt", method: "first_line" }],
    ["nothing", "   \n ", { command: "", method: "empty" }],
  ])("finds the command in %s", (_name, completion, expected) => {
    expect(parseShellCommand(completion)).toEqual(expected);
  });

  it("gives each sample a stable id from its content when the dataset has none", () => {
    const row = { task: "t", setup_commands: ["a"], success_condition: "true" };
    const a = shellTask.toSample(shellTask.row.parse(row), 1);
    const b = shellTask.toSample(shellTask.row.parse({ ...row }), 9);
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^h[0-9a-f]{12}$/);
    expect(shellTask.toSample(shellTask.row.parse({ ...row, task: "u" }), 1).id).not.toBe(a.id);
  });

  it("the gold answer parses back to the reference command", () => {
    const sample = shellTask.toSample(
      shellTask.row.parse({ task: "t", success_condition: "true", reference: "echo 'a | b' > c" }),
      1,
    );
    expect(shellTask.parse(shellTask.reference(sample)!, sample, {})).toEqual({
      command: "echo 'a | b' > c",
      method: "fenced",
    });
  });
});
