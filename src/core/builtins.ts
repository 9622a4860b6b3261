/**
 * Node built-ins that only some runs use, loaded on first use instead of when a module that may
 * use them is loaded (issue 15: start-up). A `run` of an OpenAI-compatible model over plain HTTP
 * needs none of them, and each costs 1-10 ms of start-up before the first request (zlib, tls,
 * child_process with dgram, readline). test/startup.test.ts checks that such a run loads none.
 */
import { createRequire } from "node:module";
import { promisify } from "node:util";

const require = createRequire(import.meta.url);

export const childProcess = (): typeof import("node:child_process") => require("node:child_process");
export const readline = (): typeof import("node:readline") => require("node:readline");
export const tls = (): typeof import("node:tls") => require("node:tls");
export const zlib = (): typeof import("node:zlib") => require("node:zlib");

type ExecFileAsync = typeof import("node:child_process").execFile.__promisify__;
let execFileAsyncImpl: ExecFileAsync | undefined;
/** `promisify(execFile)` of node:child_process, loaded on the first call. */
export const execFileAsync = ((...args: Parameters<ExecFileAsync>) =>
  // biome-ignore lint/suspicious/noAssignInExpressions: memoised on first use
  (execFileAsyncImpl ??= promisify(childProcess().execFile) as ExecFileAsync)(...args)) as ExecFileAsync;
