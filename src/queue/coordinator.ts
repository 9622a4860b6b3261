import { type Job, Queue, QueueEvents } from "bullmq";
import type { Trial } from "../config/index.js";
import { BenchlineError, contentHash, type Provider } from "../core/index.js";
import { connectionOptions, INFERENCE_QUEUE, parseRedisUrl, type RedisTarget } from "./connection.js";
import { fromJobError, type InferenceJob, type InferenceResult } from "./jobs.js";

/** How long finished jobs stay in Redis for a restarted coordinator to collect (7 days). */
const KEEP_SECONDS = 7 * 24 * 3600;

/**
 * The coordinator's side of a queued run: for each trial a Provider whose `generate` enqueues a
 * job and waits for a worker's answer. The pipeline's inference phase drives it exactly as it
 * drives a local provider — it bounds the requests in flight (`concurrency`, the backpressure),
 * builds the rows and stays the only writer of the trial files — so rows are the same as on one
 * machine. Job ids are deterministic per (trial, phase, id, samples, request): a rerun after a
 * crash attaches to the jobs it enqueued before instead of adding new ones.
 */
export class QueueCoordinator {
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly providers = new Map<string, Provider>();
  /** Jobs whose answers were handed to the pipeline; removed at close, when their rows are on disk. */
  private readonly consumed: Job[] = [];

  private constructor(readonly target: RedisTarget) {
    const connection = connectionOptions(target);
    this.queue = new Queue(INFERENCE_QUEUE, { connection });
    this.events = new QueueEvents(INFERENCE_QUEUE, { connection });
  }

  /** Connects to Redis (a clear error within `timeoutMs` when it cannot). */
  static async open(url: string, timeoutMs = 10_000): Promise<QueueCoordinator> {
    const coordinator = new QueueCoordinator(parseRedisUrl(url));
    await coordinator.ready(timeoutMs);
    return coordinator;
  }

  private async ready(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BenchlineError(
              "usage",
              `--queue: cannot reach Redis at ${this.target.label} within ${timeoutMs / 1000} s`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]), timeout]);
    } catch (error) {
      await this.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
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
        const job = await this.attach(jobId, data);
        const result = await this.wait(job, context.signal);
        this.consumed.push(job);
        if (result.ok) return result.generation;
        throw fromJobError(result.error);
      },
    };
    this.providers.set(trial.name, provider);
    return provider;
  }

  /**
   * The job with this id: the one already queued, running or finished (a coordinator restarted),
   * or a new one. A job that failed, or finished with an error, is replaced: a rerun retries
   * error rows, as on one machine.
   */
  private async attach(jobId: string, data: InferenceJob): Promise<Job<InferenceJob, InferenceResult>> {
    const existing = (await this.queue.getJob(jobId)) as Job<InferenceJob, InferenceResult> | undefined;
    if (existing) {
      const state = await existing.getState();
      const stale = state === "failed" || (state === "completed" && existing.returnvalue?.ok === false);
      if (!stale) return existing;
      await existing.remove();
    }
    return (await this.queue.add("generate", data, {
      jobId,
      attempts: 1,
      removeOnComplete: { age: KEEP_SECONDS },
      removeOnFail: { age: KEEP_SECONDS },
    })) as Job<InferenceJob, InferenceResult>;
  }

  private async wait(job: Job<InferenceJob, InferenceResult>, signal: AbortSignal): Promise<InferenceResult> {
    if (signal.aborted) throw aborted();
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => reject(aborted());
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([job.waitUntilFinished(this.events), stopped]);
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
    await Promise.allSettled([this.events.close(), this.queue.close()]);
  }
}

function aborted(): Error {
  return Object.assign(new Error("aborted"), { code: "aborted" });
}
