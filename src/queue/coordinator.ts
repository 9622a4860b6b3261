import { type Job, Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import type { Trial } from "../config/index.js";
import { BenchlineError, contentHash, type Provider, type Sandbox } from "../core/index.js";
import { createSandbox, type SandboxConfig } from "../sandbox/index.js";
import {
  connectionOptions,
  EXECUTION_QUEUE,
  INFERENCE_QUEUE,
  parseRedisUrl,
  type RedisTarget,
} from "./connection.js";
import {
  type ExecutionJob,
  type ExecutionResult,
  fromJobError,
  type InferenceJob,
  type InferenceResult,
  type JobError,
} from "./jobs.js";

/** How long finished jobs stay in Redis for a restarted coordinator to collect (7 days). */
const KEEP_SECONDS = 7 * 24 * 3600;

type Outcome = { ok: true } | { ok: false; error: JobError };

/** One BullMQ queue and its event stream, as the coordinator uses them. */
class JobQueue {
  readonly queue: Queue;
  readonly events: QueueEvents;
  constructor(name: string, target: RedisTarget) {
    const connection = connectionOptions(target);
    this.queue = new Queue(name, { connection });
    this.events = new QueueEvents(name, { connection });
  }
}

/**
 * The coordinator's side of a queued run: for each trial a Provider whose `generate` enqueues a
 * job and waits for a worker's answer, and a Sandbox whose `run` does the same for executions.
 * The pipeline's phases drive them exactly as they drive local ones — they bound the jobs in
 * flight (`concurrency`, `execution.concurrency`: the backpressure), build the rows and stay the
 * only writers of the trial files — so rows are the same as on one machine. Job ids are
 * deterministic (trial, phase, id, samples and request; or the sandbox run's content): a rerun
 * after a crash attaches to the jobs enqueued before instead of adding new ones.
 */
export class QueueCoordinator {
  private readonly inference: JobQueue;
  private readonly execution: JobQueue;
  private readonly providers = new Map<string, Provider>();
  /** Jobs whose answers were handed to the pipeline; removed at close, when their rows are on disk. */
  private readonly consumed: Job[] = [];

  private constructor(readonly target: RedisTarget) {
    this.inference = new JobQueue(INFERENCE_QUEUE, target);
    this.execution = new JobQueue(EXECUTION_QUEUE, target);
  }

  /** Connects to Redis (a clear error within `timeoutMs` when it cannot). */
  static async open(url: string, timeoutMs = 10_000): Promise<QueueCoordinator> {
    const target = parseRedisUrl(url);
    await probe(target, timeoutMs);
    const coordinator = new QueueCoordinator(target);
    const all = [coordinator.inference, coordinator.execution].flatMap((q) => [
      q.queue.waitUntilReady(),
      q.events.waitUntilReady(),
    ]);
    await Promise.all(all);
    return coordinator;
  }

  providerFor(trial: Trial, baseDir: string): Provider {
    let provider = this.providers.get(trial.name);
    if (provider) return provider;
    const spec = trial.spec.model;
    provider = {
      id: spec.id,
      generate: async (request, context) => {
        const data: InferenceJob = {
          trial: trial.name,
          spec,
          baseDir,
          request,
          sample: context.sample,
          ...(context.reference !== undefined ? { reference: context.reference } : {}),
        };
        const jobId = `inference-${contentHash(
          {
            trial: trial.hash,
            phase: "inference",
            id: context.sample.id,
            samples: request.sampleIndices,
            request,
          },
          32,
        )}`;
        const result = (await this.submit(
          this.inference,
          jobId,
          "generate",
          data,
          context.signal,
        )) as InferenceResult;
        if (result.ok) return result.generation;
        throw fromJobError(result.error);
      },
    };
    this.providers.set(trial.name, provider);
    return provider;
  }

  /**
   * A Sandbox whose runs are execution jobs for workers' sandboxes of this kind (its name is the
   * kind's, so execution rows read as on one machine).
   */
  sandboxFor(config: SandboxConfig): Sandbox {
    const name = createSandbox(config).name;
    return {
      name,
      run: async (steps, options) => {
        const { signal, workdir, ...rest } = options;
        if (workdir !== undefined)
          throw new BenchlineError(
            "usage",
            "--queue: this task runs in a prepared host directory (code-edit), which cannot travel to workers; run its execution phase without --queue",
          );
        const data: ExecutionJob = { sandbox: config, steps, options: rest };
        const jobId = `execution-${contentHash(data, 32)}`;
        const result = (await this.submit(
          this.execution,
          jobId,
          "execute",
          data,
          signal ?? new AbortController().signal,
        )) as ExecutionResult;
        if (result.ok) return result.result;
        throw fromJobError(result.error);
      },
    };
  }

  /**
   * Attaches to the job with this id or adds it, then waits for its answer (or the abort). The
   * answer normally comes as an event; every `POLL_MS` the job is also looked up, so a Redis
   * that restarted (its event stream starts over, or its jobs are gone) neither hangs the run
   * nor loses the job: a finished job is read directly, a vanished one is added again.
   */
  private async submit(
    q: JobQueue,
    jobId: string,
    name: string,
    data: unknown,
    signal: AbortSignal,
  ): Promise<Outcome> {
    let job = await this.attach(q, jobId, name, data);
    const stop = new AbortController();
    const both = AbortSignal.any([signal, stop.signal]);
    const poll = async (): Promise<Outcome> => {
      for (;;) {
        await sleep(POLL_MS, both);
        let failedReason: string | undefined;
        try {
          const current = (await q.queue.getJob(jobId)) as Job<unknown, Outcome> | undefined;
          if (!current) {
            job = await this.attach(q, jobId, name, data);
            continue;
          }
          const state = await current.getState();
          if (state === "completed") return current.returnvalue;
          if (state === "failed") failedReason = current.failedReason;
        } catch {
          // Redis is away (restarting): ioredis reconnects; look again at the next turn.
          continue;
        }
        if (failedReason !== undefined) throw new Error(failedReason);
      }
    };
    try {
      const result = await this.wait(q, job, signal, poll());
      this.consumed.push(job);
      return result;
    } finally {
      stop.abort();
    }
  }

  /**
   * The job with this id: the one already queued, running or finished (a coordinator restarted),
   * or a new one. A job that failed, or finished with an error, is replaced: a rerun retries
   * error rows, as on one machine.
   */
  private async attach(q: JobQueue, jobId: string, name: string, data: unknown): Promise<Job> {
    const existing = (await q.queue.getJob(jobId)) as Job<unknown, Outcome> | undefined;
    if (existing) {
      const state = await existing.getState();
      const stale = state === "failed" || (state === "completed" && existing.returnvalue?.ok === false);
      if (!stale) return existing;
      await existing.remove();
    }
    return q.queue.add(name, data, {
      jobId,
      attempts: 1,
      removeOnComplete: { age: KEEP_SECONDS },
      removeOnFail: { age: KEEP_SECONDS },
    });
  }

  private async wait(q: JobQueue, job: Job, signal: AbortSignal, polled: Promise<Outcome>): Promise<Outcome> {
    if (signal.aborted) throw aborted();
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => reject(aborted());
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      polled.catch(() => undefined); // settled by the race below or dropped after it
      return (await Promise.race([job.waitUntilFinished(q.events), polled, stopped])) as Outcome;
    } catch (error) {
      if (signal.aborted) throw aborted();
      // The job itself failed on a worker (no key, unknown provider, stalled too often).
      throw Object.assign(new Error(`worker: ${(error as Error).message}`), { code: "worker" });
    } finally {
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Removes the jobs whose rows are written (the run has ended, every row is flushed), so a later
   * run asks again instead of reusing old answers; a coordinator killed before this leaves them
   * for its rerun to collect.
   */
  async close(): Promise<void> {
    for (let i = 0; i < this.consumed.length; i += 500)
      await Promise.allSettled(this.consumed.slice(i, i + 500).map((job) => job.remove()));
    await Promise.allSettled(
      [this.inference, this.execution].flatMap((q) => [q.events.close(), q.queue.close()]),
    );
  }
}

/**
 * One PING with a client that does not reconnect: BullMQ's clients retry for ever, so an
 * unreachable Redis is found here, with a one-line error, before they are made.
 */
async function probe(target: RedisTarget, timeoutMs: number): Promise<void> {
  const client = new Redis({
    ...connectionOptions(target),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let cause = "";
  client.on("error", (error: Error) => {
    cause ||= error.message;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new BenchlineError(
      "usage",
      `--queue: cannot reach Redis at ${target.label}: ${cause || (error as Error).message}`,
    );
  } finally {
    client.disconnect();
  }
}

/** How often a job being waited for is looked up in Redis (see `submit`). */
const POLL_MS = 2000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(aborted());
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(aborted());
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function aborted(): Error {
  return Object.assign(new Error("aborted"), { code: "aborted" });
}
