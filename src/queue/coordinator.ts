import { type Job, Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import type { Trial } from "../config/index.js";
import {
  type AnyTask,
  BenchlineError,
  contentHash,
  type GenerateContext,
  type ModelSpec,
  type Provider,
  type Sandbox,
} from "../core/index.js";
import { withModelCache, withScheduler } from "../providers/index.js";
import { createSandbox, type SandboxConfig } from "../sandbox/index.js";
import {
  connectionOptions,
  EXECUTION_QUEUE,
  INFERENCE_QUEUES_KEY,
  inferenceQueue,
  parseRedisUrl,
  type QueueInfo,
  type RedisTarget,
  rpmLimiter,
} from "./connection.js";
import {
  type ExecutionJob,
  type ExecutionResult,
  fromJobError,
  fromProviderJobError,
  type InferenceJob,
  type InferenceResult,
  type JobError,
} from "./jobs.js";
import { coordinatorScheduling } from "./limits.js";
import { createProgress, createTally, formatProgress } from "./progress.js";

/** A request's context on its way through the model's scheduler: the trial it is for. */
interface TrialContext extends GenerateContext {
  trial: Trial;
}

/** How long finished jobs stay in Redis for a restarted coordinator to collect (7 days). */
const KEEP_SECONDS = 7 * 24 * 3600;

type Outcome = ({ ok: true } | { ok: false; error: JobError }) & { worker?: string };

/** A job being waited for: how its answer (or failure) is handed over. */
interface Waiter {
  resolve: (outcome: Outcome) => void;
  reject: (error: Error) => void;
}

/**
 * One BullMQ queue and its event stream, as the coordinator uses them: one listener per event
 * kind hands each finished job's answer to its waiter (no listener per job, so none pile up).
 */
class JobQueue {
  readonly queue: Queue;
  readonly events: QueueEvents;
  /** Set once the queue is announced to workers (`INFERENCE_QUEUES_KEY`); reset when Redis lost it. */
  announced: Promise<void> | undefined;
  /** Jobs being waited for, by id (identical executions share one job, so one id may have several). */
  readonly waiters = new Map<string, Set<Waiter>>();
  constructor(
    readonly name: string,
    target: RedisTarget,
    /** An inference queue's model and limiter, announced to workers through `redis`. */
    private readonly info?: { queue: QueueInfo; redis: Redis },
  ) {
    const connection = connectionOptions(target);
    this.queue = new Queue(name, { connection });
    this.events = new QueueEvents(name, { connection });
    this.events.on("completed", ({ jobId, returnvalue }) => {
      for (const w of this.waiters.get(jobId) ?? []) w.resolve(returnvalue as unknown as Outcome);
    });
    this.events.on("failed", ({ jobId, failedReason }) => {
      for (const w of this.waiters.get(jobId) ?? []) w.reject(workerError(failedReason));
    });
    // ioredis reconnects on its own (the poll in `submit` covers what the stream misses).
    this.events.on("error", () => undefined);
    this.queue.on("error", () => undefined);
  }

  /** Ready to take jobs: connected, listening for their events, and known to workers. */
  announce(): Promise<void> {
    this.announced ??= (async () => {
      await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
      if (this.info)
        await this.info.redis.hset(INFERENCE_QUEUES_KEY, this.name, JSON.stringify(this.info.queue));
    })().catch((error: unknown) => {
      this.announced = undefined;
      throw error;
    });
    return this.announced;
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
  /** Inference queues by model id (one per model, `inferenceQueue`). */
  private readonly inference = new Map<string, JobQueue>();
  private readonly execution: JobQueue;
  /** Announces inference queues to workers (`INFERENCE_QUEUES_KEY`). */
  private readonly redis: Redis;
  /** Providers by trial, and the model providers (scheduler and queue) their trials share. */
  private readonly providers = new Map<string, Provider>();
  private readonly models = new Map<string, Provider>();
  /** Jobs whose answers were handed to the pipeline; removed at close, when their rows are on disk. */
  private readonly consumed: { queue: Queue; id: string }[] = [];

  private constructor(readonly target: RedisTarget) {
    this.execution = new JobQueue(EXECUTION_QUEUE, target);
    this.redis = new Redis(connectionOptions(target));
    this.redis.on("error", () => undefined); // reconnects on its own
  }

  /**
   * Connects to Redis (a clear error within `timeoutMs` when it cannot). A run whose executions
   * cannot travel to workers (`task.localExecution`, e.g. code-edit) is refused first, before
   * anything is enqueued or written.
   */
  static async open(
    url: string,
    run: { task: AnyTask; executes: boolean; log?: ProgressLog },
    timeoutMs = 10_000,
  ): Promise<QueueCoordinator> {
    const target = parseRedisUrl(url);
    if (run.executes && run.task.execute && run.task.localExecution)
      throw new BenchlineError(
        "usage",
        `--queue: task ${run.task.name} cannot send executions to workers (${run.task.localExecution}); run with --phase inference --queue, then --phase execution without --queue`,
      );
    await probe(target, timeoutMs);
    const coordinator = new QueueCoordinator(target);
    await coordinator.execution.announce();
    if (run.log) await coordinator.startProgress(run.log);
    return coordinator;
  }

  private stopProgress: (() => Promise<void>) | undefined;
  private log: ProgressLog | undefined;
  /** Answers received, by the worker that sent them. */
  private readonly answers = createTally();

  /** Every `PROGRESS_MS`: workers seen, their rates, the queues' depth; at close, each worker's share. */
  private async startProgress(log: ProgressLog): Promise<void> {
    this.log = log;
    const progress = createProgress(this.redis, () => [
      ...[...this.inference.values()].map((q) => q.queue),
      this.execution.queue,
    ]);
    await progress.look().catch(() => undefined); // the baseline for rates
    const timer = setInterval(() => {
      progress
        .look()
        .then((p) => log(formatProgress(p), { type: "queue:progress", ...p }))
        .catch(() => undefined); // Redis away: the next look
    }, PROGRESS_MS);
    this.stopProgress = async () => {
      clearInterval(timer);
      const workers = this.answers.summary();
      const each = workers.map((w) => `${w.name} ${w.done} jobs (${w.rate.toFixed(1)}/s)`).join(", ");
      log(
        `queue: ${workers.length} worker${workers.length === 1 ? "" : "s"} served this run${each ? `: ${each}` : ""}`,
        {
          type: "queue:workers",
          workers,
        },
      );
    };
  }

  /**
   * The trial's provider: each request becomes an inference job, behind the run's response cache
   * (`cacheDir`, as on one machine): hits are answered here and never enqueued, answers that come
   * back from workers are stored. The model's trials share its scheduler (limits.ts): its
   * concurrency, adaptive on 429s, and its retries hold across all workers.
   */
  providerFor(
    trial: Trial,
    baseDir: string,
    cacheDir: string | undefined,
    defaultConcurrency: number,
  ): Provider {
    let provider = this.providers.get(trial.name);
    if (provider) return provider;
    const spec = trial.spec.model;
    const model = this.modelProvider(spec, baseDir, defaultConcurrency);
    const queued: Provider = {
      id: spec.id,
      generate: (request, context) => model.generate(request, { ...context, trial } as TrialContext),
    };
    provider = cacheDir ? withModelCache(queued, spec, { baseDir, env: process.env }, cacheDir) : queued;
    this.providers.set(trial.name, provider);
    return provider;
  }

  /** One per model: its queue, behind its scheduler; each attempt is a job of the context's trial. */
  private modelProvider(spec: ModelSpec, baseDir: string, defaultConcurrency: number): Provider {
    let model = this.models.get(spec.id);
    if (model) return model;
    const limiter = rpmLimiter(spec.options.rpm as number | undefined);
    const jobs = new JobQueue(inferenceQueue(spec.id), this.target, {
      queue: { model: spec.id, ...(limiter ? { limiter } : {}) },
      redis: this.redis,
    });
    this.inference.set(spec.id, jobs);
    const dispatch: Provider = {
      id: spec.id,
      generate: async (request, context) => {
        const { trial } = context as TrialContext;
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
        const result = (await this.submit(jobs, jobId, "generate", data, context.signal)) as InferenceResult;
        if (result.ok) return result.generation;
        throw fromProviderJobError(result.error);
      },
    };
    const scheduling = coordinatorScheduling(spec, defaultConcurrency);
    // The adaptive limit moves for all workers at once: say so (halved on a 429, regained by one).
    const onLimitChange = (limit: number): void =>
      this.log?.(`queue: model ${spec.id}: at most ${limit} requests in flight across all workers`, {
        type: "queue:limit",
        model: spec.id,
        limit,
      });
    model = scheduling ? withScheduler(dispatch, { ...scheduling, onLimitChange }) : dispatch;
    this.models.set(spec.id, model);
    return model;
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
   * answer normally comes as an event (listened for before the job is added, so none is missed);
   * every `POLL_MS` the job is also looked up, so a Redis that restarted (its event stream starts
   * over, or its jobs are gone) neither hangs the run nor loses the job: a finished job is read
   * directly, a vanished one is added again. Only a job that failed on a worker (its `failed`
   * event or state) is an error; Redis errors are waited out.
   */
  private async submit(
    q: JobQueue,
    jobId: string,
    name: string,
    data: unknown,
    signal: AbortSignal,
  ): Promise<Outcome> {
    if (signal.aborted) throw aborted();
    let waiter: Waiter | undefined;
    const answered = new Promise<Outcome>((resolve, reject) => {
      waiter = { resolve, reject };
    });
    const handed = waiter as unknown as Waiter;
    const waiters = q.waiters.get(jobId) ?? new Set<Waiter>();
    q.waiters.set(jobId, waiters.add(handed));
    const onAbort = (): void => handed.reject(aborted());
    signal.addEventListener("abort", onAbort, { once: true });
    const stop = new AbortController();
    const both = AbortSignal.any([signal, stop.signal]);
    const poll = async (): Promise<void> => {
      let job: Job | undefined;
      for (;;) {
        try {
          if (job === undefined) {
            const attached = await this.attach(q, jobId, name, data);
            job = attached.job;
            if (attached.outcome) return handed.resolve(attached.outcome);
          } else {
            const current = (await q.queue.getJob(jobId)) as Job<unknown, Outcome> | undefined;
            if (!current) {
              // Gone with a restarted Redis: announce the queue and add the job again, now.
              q.announced = undefined;
              job = undefined;
              continue;
            }
            const state = await current.getState();
            if (state === "completed") return handed.resolve(current.returnvalue);
            if (state === "failed") return handed.reject(workerError(current.failedReason));
          }
        } catch {
          // Redis is away (restarting): ioredis reconnects; look again at the next turn.
        }
        await sleep(POLL_MS, both);
      }
    };
    poll().catch(() => undefined); // ends with the abort below
    try {
      const outcome = await answered;
      this.consumed.push({ queue: q.queue, id: jobId });
      if (outcome.worker !== undefined) this.answers.count(outcome.worker);
      return outcome;
    } finally {
      stop.abort();
      signal.removeEventListener("abort", onAbort);
      waiters.delete(handed);
      if (waiters.size === 0 && q.waiters.get(jobId) === waiters) q.waiters.delete(jobId);
    }
  }

  /**
   * The job with this id: the one already queued, running or finished (a coordinator restarted;
   * a finished one's answer is returned), or a new one. A job that failed, or finished with an
   * error, is replaced: a rerun retries error rows, as on one machine.
   */
  private async attach(
    q: JobQueue,
    jobId: string,
    name: string,
    data: unknown,
  ): Promise<{ job: Job; outcome?: Outcome }> {
    await q.announce();
    const existing = (await q.queue.getJob(jobId)) as Job<unknown, Outcome> | undefined;
    if (existing) {
      const state = await existing.getState();
      if (state === "completed" && existing.returnvalue?.ok !== false)
        return { job: existing, outcome: existing.returnvalue };
      const stale = state === "failed" || state === "completed";
      if (!stale) return { job: existing };
      await existing.remove();
    }
    const job = await q.queue.add(name, data, {
      jobId,
      attempts: 1,
      removeOnComplete: { age: KEEP_SECONDS },
      removeOnFail: { age: KEEP_SECONDS },
    });
    return { job };
  }

  /**
   * Removes the jobs whose rows are written (the run has ended, every row is flushed), so a later
   * run asks again instead of reusing old answers; a coordinator killed before this leaves them
   * for its rerun to collect.
   */
  async close(): Promise<void> {
    await this.stopProgress?.();
    for (let i = 0; i < this.consumed.length; i += 500)
      await Promise.allSettled(this.consumed.slice(i, i + 500).map((job) => job.queue.remove(job.id)));
    await Promise.allSettled(
      [...this.inference.values(), this.execution].flatMap((q) => [q.events.close(), q.queue.close()]),
    );
    this.redis.disconnect();
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

/** A progress line and the same as data (for `--log json`). */
export type ProgressLog = (line: string, data: { type: string } & Record<string, unknown>) => void;

/** How often the coordinator reports workers and queue depth. */
const PROGRESS_MS = 5000;

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

/** A job that failed on a worker (no key, unknown provider, stalled too often): its row's error. */
function workerError(reason: string | undefined): Error {
  return Object.assign(new Error(`worker: ${reason ?? "failed"}`), { code: "worker" });
}

function aborted(): Error {
  return Object.assign(new Error("aborted"), { code: "aborted" });
}
