import { hostname } from "node:os";
import { type Job, Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { type Provider, type Sandbox, stableStringify } from "../core/index.js";
import { createProvider } from "../providers/index.js";
import { createSandbox, SandboxPool } from "../sandbox/index.js";
import {
  connectionOptions,
  EXECUTION_QUEUE,
  INFERENCE_QUEUES_KEY,
  parseRedisUrl,
  type QueueInfo,
} from "./connection.js";
import {
  type ExecutionJob,
  type ExecutionResult,
  type InferenceJob,
  type InferenceResult,
  toJobError,
} from "./jobs.js";
import { SharedLimits, tpmOf, UNBOUNDED_LIMITER, workerScheduling } from "./limits.js";
import { startBeat } from "./progress.js";
import { subScheduling } from "./sub-limits.js";

export type QueuedPhase = "inference" | "execution";
export const QUEUED_PHASES: readonly QueuedPhase[] = ["inference", "execution"];

export interface WorkerOptions {
  url: string;
  /** Jobs this worker runs at the same time (per phase). */
  concurrency: number;
  /** Phases whose jobs this worker takes. */
  phases: readonly QueuedPhase[];
  /** Model ids whose inference jobs this worker takes (`--models`); undefined: every model's. */
  models?: readonly string[];
  /**
   * A job's lock lasts this long and is renewed at half of it; a worker that dies (kill -9) stops
   * renewing, and after about this long another worker's stalled-job check hands the job on.
   */
  stalledMs: number;
  env: Record<string, string | undefined>;
  log: (line: string) => void;
}

export interface RunningWorker {
  done: number;
  failed: number;
  close(): Promise<void>;
}

/**
 * A worker: takes inference jobs and answers them with its own providers (one per model spec,
 * built from this machine's environment, so API keys never leave it), and execution jobs with
 * its own sandboxes. A provider or sandbox error is the job's result (the coordinator writes it
 * as an error row, as on one machine); a job the worker cannot do at all — no API key here, an
 * unknown provider — fails with that message.
 */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const target = parseRedisUrl(options.url);
  const providers = new Map<string, Provider>();
  const sandboxes = new Map<string, Sandbox>();
  const closing = new AbortController();
  const stats = { done: 0, failed: 0 };
  const me = `worker ${hostname()}`;
  /** How coordinators name this worker (progress, the answers it sends). */
  const name = `${hostname()} pid ${process.pid}`;

  /** Each served model queue's limits shared with the other workers (limits.ts). */
  const shared = new Map<string, SharedLimits>();
  const infer = async (job: Job<InferenceJob, InferenceResult>): Promise<InferenceResult> => {
    const { spec, baseDir, request, sample, reference } = job.data;
    const key = stableStringify({ spec, baseDir });
    let provider = providers.get(key);
    if (!provider) {
      try {
        provider = createProvider(
          spec,
          { baseDir, env: options.env },
          {
            defaultConcurrency: options.concurrency,
            adjustScheduling: workerScheduling(spec, options.concurrency),
            // A guided model's base and oracle: their rpm and tpm hold across all workers.
            createSub: (sub, env) =>
              createProvider(sub, env, { adjustScheduling: subScheduling(sub, redis) }),
          },
        );
      } catch (error) {
        throw new Error(`${me}: model "${spec.id}": ${(error as Error).message}`);
      }
      providers.set(key, provider);
    }
    const limits = shared.get(job.queueName);
    const tpm = tpmOf(spec);
    // Redis errors here fail the job (BullMQ), as any other Redis error of the worker's would.
    const reserved = limits ? await limits.beforeSend(request, tpm, closing.signal) : 0;
    try {
      const generation = await provider.generate(request, {
        signal: closing.signal,
        sample,
        ...(reference !== undefined ? { reference } : {}),
      });
      // Best effort: a Redis hiccup here must not turn an answer into a failed job.
      await limits?.settle(generation, reserved, tpm).catch(() => undefined);
      return { ok: true, generation, worker: name };
    } catch (error) {
      const { code, retryAfterMs } = error as { code?: unknown; retryAfterMs?: unknown };
      if (limits && code === "http_429" && typeof retryAfterMs === "number")
        await limits.throttled(retryAfterMs, tpm).catch(() => undefined);
      return { ok: false, error: toJobError(error), worker: name };
    }
  };

  const execute = async (job: Job<ExecutionJob, ExecutionResult>): Promise<ExecutionResult> => {
    const { sandbox: config, steps, options: runOptions } = job.data;
    const key = stableStringify(config);
    let sandbox = sandboxes.get(key);
    if (!sandbox) {
      try {
        const created = createSandbox(config);
        // A sandbox that cannot work here (no bwrap, no docker daemon) fails the job, clearly.
        await created.start?.();
        sandbox = new SandboxPool(created, options.concurrency);
      } catch (error) {
        throw new Error(`${me}: sandbox ${config.kind}: ${(error as Error).message}`);
      }
      sandboxes.set(key, sandbox);
    }
    try {
      return {
        ok: true,
        result: await sandbox.run(steps, { ...runOptions, signal: closing.signal }),
        worker: name,
      };
    } catch (error) {
      return { ok: false, error: toJobError(error), worker: name };
    }
  };

  const settings = {
    connection: connectionOptions(target),
    concurrency: options.concurrency,
    lockDuration: options.stalledMs,
    stalledInterval: options.stalledMs,
    maxStalledCount: 2,
  };
  const workers: Worker[] = [];
  const wire = (worker: Worker): void => {
    worker.on("completed", () => void stats.done++);
    worker.on("failed", (job, error) => {
      stats.failed++;
      options.log(`job ${job?.id ?? "?"} failed: ${error.message}`);
    });
    // ioredis reconnects on its own; say so once per distinct error, not once per attempt.
    let lastError = "";
    worker.on("error", (error) => {
      if (error.message === lastError) return;
      lastError = error.message;
      options.log(`redis: ${error.message}`);
    });
  };
  if (options.phases.includes("execution")) {
    const worker = new Worker(EXECUTION_QUEUE, execute, settings);
    wire(worker);
    workers.push(worker);
  }
  // Inference: one queue per model, announced by coordinators; take up those of --models (or all)
  // as they appear. A model's `rpm` is the queue's BullMQ limiter, held in Redis for all workers;
  // its `tpm` and 429 pauses are shared through Redis too (limits.ts).
  const served = new Set<string>();
  /** The served model queues, for their shared pause after a 429 (`Queue.rateLimit`). */
  const queues: Queue[] = [];
  let stopped = false;
  const redis = new Redis(connectionOptions(target));
  redis.on("error", () => undefined); // the Workers report Redis errors
  const discover = async (): Promise<void> => {
    if (!options.phases.includes("inference")) return;
    const announced = await redis.hgetall(INFERENCE_QUEUES_KEY);
    for (const [name, text] of Object.entries(announced)) {
      if (served.has(name) || stopped) continue;
      const info = JSON.parse(text) as QueueInfo;
      if (options.models && !options.models.includes(info.model)) continue;
      served.add(name);
      const queue = new Queue(name, { connection: connectionOptions(target) });
      queue.on("error", () => undefined); // the Workers report Redis errors
      queues.push(queue);
      shared.set(name, new SharedLimits(redis, queue));
      const worker = new Worker(name, infer, { ...settings, limiter: info.limiter ?? UNBOUNDED_LIMITER });
      wire(worker);
      workers.push(worker);
      options.log(
        `${me}: taking model ${info.model}'s jobs${info.limiter ? ` (at most ${info.limiter.max} per ${info.limiter.duration / 1000} s across all workers)` : ""}`,
      );
    }
  };
  await discover();
  let discovering = false;
  const watch = setInterval(() => {
    if (discovering) return;
    discovering = true;
    discover()
      .catch(() => undefined) // Redis away: look again next turn
      .finally(() => {
        discovering = false;
      });
  }, DISCOVER_MS);
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  // Seen by coordinators' progress: this worker, its jobs done and failed.
  const stopBeat = startBeat(redis, name, () => ({ ...stats }));
  options.log(
    `${me} pid ${process.pid}: serving ${options.phases.join(", ")}${options.models ? ` (models ${options.models.join(", ")})` : ""} on ${target.label}, concurrency ${options.concurrency}`,
  );
  return {
    get done() {
      return stats.done;
    },
    get failed() {
      return stats.failed;
    },
    close: async () => {
      stopped = true;
      clearInterval(watch);
      const reachable = redis.status === "ready";
      // Redis away: a job in hand could not be reported anyway, and a graceful close (or any
      // command) would wait for a connection that may never come back.
      const bounded = (work: Promise<unknown>): Promise<unknown> =>
        reachable ? work : Promise.race([work, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      if (reachable) await Promise.all(workers.map((w) => w.close()));
      else {
        options.log("redis: unreachable; not waiting for the jobs in hand");
        await bounded(Promise.allSettled(workers.map((w) => w.close(true))));
      }
      await bounded(stopBeat());
      await bounded(Promise.allSettled(queues.map((q) => q.close())));
      redis.disconnect();
      closing.abort();
      await Promise.allSettled([
        ...[...providers.values()].map((p) => p.close?.()),
        ...[...sandboxes.values()].map((s) => s.close?.()),
      ]);
    },
  };
}

/** How often a worker looks for inference queues of models it has not served yet. */
const DISCOVER_MS = 500;
