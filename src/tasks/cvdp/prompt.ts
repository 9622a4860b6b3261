import { categoryNames, comprehensionCategories, type Problem } from "./records.js";

/**
 * The prompt CVDP itself sends (and `local_export` writes), byte for byte: `model_helpers.py`
 * `create_system_prompt` and `dataset_processor.py` `CopilotProcessor.create_context`.
 */

const folders = `You are a helpful assistance.
Consider that you have a folder structure like the following:

    - rtl/*   : Contains files which are RTL code.
    - verif/* : Contains files which are used to verify the correctness of the RTL code.
    - docs/*  : Contains files used to document the project, like Block Guides, RTL Plans and Verification Plans.

When generating files, return the file name in the correct place at the folder structure.
`;

const guidance: Record<number, string> = {
  2: "You are solving an 'RTL Code Completion' problem. To solve this problem correctly, you should only respond with the RTL code generated according to the requirements.",
  3: "You are solving a 'Specification to RTL Translation' problem. To solve this problem correctly, you should only respond with the RTL code translated from the specification.",
  4: "You are solving an 'RTL Code Modification' problem. To solve this problem correctly, you should only respond with the modified RTL code according to the requirements.",
  5: "You are solving a 'Specification to RTL Translation: Module Instantiation and Component Reuse' problem. To solve this problem correctly, you should only respond with the RTL code translated from the specification and with proper module instantiation and component reuse.",
  6: "You are solving an 'RTL Correspondence' problem. To solve this problem correctly, you should only respond with a verbatim quote from the specification (if the context is RTL) that corresponds to the RTL code snippet or verbatim RTL source code (if the context is specification) that corresponds to the specification snippet.",
  7: "You are solving an 'RTL Lint Improvement or Power-Performance Optimization' problem. To solve this problem correctly, you should only respond with improved RTL code to address lint issues or optimize for power/performance.",
  8: "You are solving a 'Testbench Correspondence' problem. To solve this problem correctly, you should only respond with the verbatim testbench code that corresponds to the test plan snippet (if the context is testbench code) or verbatim test plan that corresponds to the testbench code snippet (if the context is testbench code).",
  9: "You are solving a 'Question & Answer on RTL' problem. To solve this problem correctly, you should only respond with a detailed answer to the question about RTL.",
  10: "You are solving a 'Question & Answer on Testbench' problem. To solve this problem correctly, you should only respond with a detailed answer to the question about the testbench.",
  12: "You are solving a 'Test Plan to Testbench Stimulus Generation' problem. To solve this problem correctly, you should only respond with the testbench stimulus code generated based on the test plan specification.",
  13: "You are solving a 'Test Plan to Testbench Checker Generation' problem. To solve this problem correctly, you should only respond with the testbench checker code generated based on the test plan specification.",
  14: "You are solving a 'Test Plan to Assertions Generation' problem. To solve this problem correctly, you should only respond with the assertions for the testbench based on the test plan specification.",
  16: "You are solving an 'RTL Debugging and Bug Fixing' problem. To solve this problem correctly, you should only respond with the RTL code that is debugged and fixed to address the bug.",
};

const jsonSchemas = ['{ "code": [{ "<name>" : "<code>"}] }', '{ "response": "<response>" }'];

/** The files the answer is written to: none for comprehension problems (the answer is text). */
export function answerFiles(problem: Problem): string[] {
  return comprehensionCategories.includes(problem.cid) ? [] : Object.keys(problem.expected);
}

/** CVDP's system prompt: folders, category guidance, and the JSON schemas unless one file is expected. */
export function systemPrompt(problem: Problem): string {
  let system = `${folders}\n${guidance[problem.cid] ?? categoryNames[problem.cid] ?? ""}\n`;
  if (answerFiles(problem).length !== 1) {
    system += `\nProvide the response in one of the following JSON schemas: \n${jsonSchemas.join("\nor\n")}`;
    system +=
      "\nThe response should be in JSON format, including double-quotes around keys and values, and proper escaping of quotes within values, and escaping of newlines.";
  }
  return system;
}

/** CVDP's user prompt: each context file in a fence, the request, then the answer's format. */
export function userPrompt(problem: Problem): string {
  let user = "";
  for (const [file, text] of Object.entries(problem.context))
    user += `\nConsider the following content for the file ${file}:\n\`\`\`\n${text}\n\`\`\``;
  user += `\nProvide me one answer for this request: ${problem.prompt}\n`;
  const files = answerFiles(problem);
  if (files.length === 1)
    user += `Please provide your response as plain text without any JSON formatting. Your response will be saved directly to: ${files[0]}.\n`;
  else if (files.length > 1) user += `Name the files as: ${pythonList(files)}.\n`;
  else if (comprehensionCategories.includes(problem.cid))
    user += 'Provide your response using the format: { "response": "<your answer here>" }\n';
  else user += "Provide your response below.\n";
  return user;
}

/** `str(list)` of Python for a list of plain strings: `['a', 'b']`. */
function pythonList(items: string[]): string {
  return `[${items.map(pythonRepr).join(", ")}]`;
}

function pythonRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of text) {
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else out += ch;
  }
  return `${quote}${out}${quote}`;
}
