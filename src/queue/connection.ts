import { BenchlineError, contentHash } from "../core/index.js";

/** What BullMQ needs to reach Redis, parsed from `redis://[user:pass@]host:port[/db]`. */
export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  /** The URL without its password, for messages. */
  label: string;
}

/** Executions: one queue. Inference: one queue per model (`inferenceQueue`). */
export const INFERENCE_QUEUE = "benchline-inference";
export const EXECUTION_QUEUE = "benchline-execution";

/**
 * A Redis hash of the inference queues coordinators have opened: queue name → `QueueInfo`. A
 * worker watches it to take up new models' queues (those of its `--models`, or all).
 */
export const INFERENCE_QUEUES_KEY = "benchline:inference-queues";

/** What a worker needs to know of a model's queue: whose it is and its shared rate limit. */
export interface QueueInfo {
  model: string;
  /** BullMQ's limiter, held in Redis for the queue: at most `max` jobs start per `duration` ms. */
  limiter?: { max: number; duration: number };
}

/**
 * The inference queue of one model (by its id): one queue per model lets a worker take only some
 * models' jobs and lets BullMQ's limiter — global per queue — hold the model's `rpm` across all
 * workers. Readable part plus a hash, so distinct ids never share a queue.
 */
export function inferenceQueue(modelId: string): string {
  const readable = modelId.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60);
  return `${INFERENCE_QUEUE}-${readable}-${contentHash(modelId, 8)}`;
}

/** A model's `rpm` as BullMQ's limiter (whole jobs per window; a fractional rpm widens the window). */
export function rpmLimiter(rpm: number | undefined): QueueInfo["limiter"] {
  if (rpm === undefined) return undefined;
  const max = Math.max(1, Math.floor(rpm));
  return { max, duration: Math.round((60_000 * max) / rpm) };
}

export function parseRedisUrl(text: string, flag = "--queue"): RedisTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BenchlineError("usage", `${flag}: "${text}" is not a URL; expected redis://host:port[/db]`);
  }
  if (url.protocol !== "redis:")
    throw new BenchlineError("usage", `${flag}: expected redis://host:port[/db], got ${url.protocol}//`);
  const dbText = url.pathname.replace(/^\//, "");
  const db = dbText === "" ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0)
    throw new BenchlineError("usage", `${flag}: database "${dbText}" is not a number (redis://host:port/db)`);
  const port = url.port === "" ? 6379 : Number(url.port);
  return {
    host: url.hostname,
    port,
    db,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    label: `redis://${url.hostname}:${port}/${db}`,
  };
}

/** ioredis options; BullMQ workers need `maxRetriesPerRequest: null` (blocking commands). */
export function connectionOptions(target: RedisTarget) {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    maxRetriesPerRequest: null,
  };
}
