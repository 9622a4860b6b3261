export * from "./markdown.js";
export * from "./summary.js";
