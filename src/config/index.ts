export * from "./load.js";
export * from "./parse.js";
export * from "./schema.js";
export * from "./trials.js";
