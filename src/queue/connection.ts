import { BenchlineError } from "../core/index.js";

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

/** Queue names: one per phase (jobs carry the model, so one queue serves every model). */
export const INFERENCE_QUEUE = "benchline-inference";
export const EXECUTION_QUEUE = "benchline-execution";

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
