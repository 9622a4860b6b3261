export * from "./concurrency.js";
export * from "./contracts.js";
export * from "./errors.js";
export * from "./hash.js";
export * from "./jsonl.js";
export * from "./records.js";
export * from "./template.js";
export * from "./truncate.js";
