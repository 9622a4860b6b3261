import { type AnyTask, BenchlineError, type Task } from "../core/index.js";
import { codeTask } from "./code.js";
import { codeEditTask } from "./code-edit/index.js";
import { cvdpTask } from "./cvdp/index.js";
import { mathTask } from "./math.js";
import { qaTask } from "./qa.js";
import { shellTask } from "./shell.js";

export { defineTask, idFor } from "./define.js";
export { checkFieldMap, type FieldMap, rowFields } from "./fields.js";
export { type Dataset, lineOf, loadSamples, readDataset, readDatasetEntries, sampleMap } from "./load.js";
export { type ParseMethod, parseShellCommand, type ShellArtifact } from "./shell.js";

/** Built-in tasks by name. */
export const tasks = {
  qa: qaTask,
  shell: shellTask,
  code: codeTask,
  math: mathTask,
  "code-edit": codeEditTask,
  cvdp: cvdpTask,
} satisfies Record<string, AnyTask>;

export type TaskName = keyof typeof tasks;

export function getTask(name: string): Task<unknown, unknown> {
  const task = (tasks as Record<string, AnyTask>)[name];
  if (!task) {
    throw new BenchlineError(
      "not_found",
      `unknown task "${name}" (available: ${Object.keys(tasks).join(", ")})`,
    );
  }
  return task as Task<unknown, unknown>;
}
export { extractDiff, removeLastFile } from "./code-edit/extract.js";
export { runReport } from "./code-edit/grading.js";
export { type FilesArtifact, isSafePath, parseFiles, renderFiles } from "./files.js";
export { IdTable, IntList } from "./id-table.js";
