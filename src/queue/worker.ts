import { hostname } from "node:os";
import { type Job, Worker } from "bullmq";
import { type Provider, stableStringify } from "../core/index.js";
import { createProvider } from "../providers/index.js";
import { connectionOptions, INFERENCE_QUEUE, parseRedisUrl } from "./connection.js";
import { type InferenceJob, type InferenceResult, toJobError } from "./jobs.js";

export interface WorkerOptions {
  url: string;
  /** Jobs this worker runs at the same time. */
  concurrency: number;
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
 * built from this machine's environment, so API keys never leave it). A provider error is the
 * job's result (the coordinator writes it as an error row, as on one machine); a job the worker
 * cannot do at all — no API key here, an unknown provider — fails with that message.
 */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const target = parseRedisUrl(options.url);
  const providers = new Map<string, Provider>();
  const closing = new AbortController();
  const stats = { done: 0, failed: 0 };
  const processor = async (job: Job<InferenceJob, InferenceResult>): Promise<InferenceResult> => {
    const { spec, baseDir, request, sample, reference } = job.data;
    const key = stableStringify({ spec, baseDir });
    let provider = providers.get(key);
    if (!provider) {
      try {
        provider = createProvider(
          spec,
          { baseDir, env: options.env },
          { defaultConcurrency: options.concurrency },
        );
      } catch (error) {
        throw new Error(`worker ${hostname()}: model "${spec.id}": ${(error as Error).message}`);
      }
      providers.set(key, provider);
    }
    try {
      const generation = await provider.generate(request, {
        signal: closing.signal,
        sample,
        ...(reference !== undefined ? { reference } : {}),
      });
      return { ok: true, generation };
    } catch (error) {
      return { ok: false, error: toJobError(error) };
    }
  };
  const worker = new Worker<InferenceJob, InferenceResult>(INFERENCE_QUEUE, processor, {
    connection: connectionOptions(target),
    concurrency: options.concurrency,
    lockDuration: options.stalledMs,
    stalledInterval: options.stalledMs,
    maxStalledCount: 2,
  });
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
  await worker.waitUntilReady();
  options.log(
    `worker ${hostname()} pid ${process.pid}: serving ${INFERENCE_QUEUE} on ${target.label}, concurrency ${options.concurrency}`,
  );
  return {
    get done() {
      return stats.done;
    },
    get failed() {
      return stats.failed;
    },
    close: async () => {
      await worker.close();
      closing.abort();
      await Promise.allSettled([...providers.values()].map((p) => p.close?.()));
    },
  };
}
