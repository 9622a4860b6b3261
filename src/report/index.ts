export * from "./csv.js";
export * from "./experiment.js";
export { renderExperimentHtml } from "./html.js";
export * from "./markdown.js";
export * from "./summary.js";
