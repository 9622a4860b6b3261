import type { Queue } from "bullmq";
import type { Redis } from "ioredis";

/**
 * A Redis hash of live workers: `<host> pid <pid>` → `WorkerBeat` (JSON), refreshed every
 * `BEAT_MS` by each worker and removed when it stops; the coordinator's progress reads it.
 */
export const WORKERS_KEY = "benchline:workers";
export const BEAT_MS = 1000;

/** What a worker reports of itself. */
export interface WorkerBeat {
  done: number;
  failed: number;
  /** Milliseconds since the epoch of this beat. */
  at: number;
}

/** One progress report of a queued run, as the coordinator prints it. */
export interface QueueProgress {
  workers: { name: string; done: number; failed: number; rate: number }[];
  waiting: number;
  active: number;
}

/** Writes the worker's beat now and every `BEAT_MS`; `stop` removes it. */
export function startBeat(
  redis: Redis,
  name: string,
  stats: () => Omit<WorkerBeat, "at">,
): () => Promise<void> {
  const beat = (): void => {
    redis.hset(WORKERS_KEY, name, JSON.stringify({ ...stats(), at: Date.now() })).catch(() => undefined);
  };
  beat();
  const timer = setInterval(beat, BEAT_MS);
  return async () => {
    clearInterval(timer);
    await redis.hdel(WORKERS_KEY, name).catch(() => undefined);
  };
}

/**
 * The coordinator's view: workers seen (beats younger than 10 s), each one's rate in jobs/s since
 * the last look, and the queues' depth.
 */
export function createProgress(redis: Redis, queues: () => Queue[]) {
  const last = new Map<string, { done: number; at: number }>();
  return {
    async look(): Promise<QueueProgress> {
      const now = Date.now();
      const beats = await redis.hgetall(WORKERS_KEY);
      const workers: QueueProgress["workers"] = [];
      for (const [name, text] of Object.entries(beats).sort(([a], [b]) => a.localeCompare(b))) {
        const beat = JSON.parse(text) as WorkerBeat;
        if (now - beat.at > 10_000) continue;
        const before = last.get(name);
        const rate =
          before && beat.at > before.at ? ((beat.done - before.done) * 1000) / (beat.at - before.at) : 0;
        last.set(name, { done: beat.done, at: beat.at });
        workers.push({ name, done: beat.done, failed: beat.failed, rate });
      }
      let waiting = 0;
      let active = 0;
      for (const queue of queues()) {
        const counts = await queue.getJobCounts("waiting", "active", "prioritized", "delayed");
        waiting += (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
        active += counts.active ?? 0;
      }
      return { workers, waiting, active };
    },
  };
}

/** Answers by the worker that sent them: each worker's jobs and mean rate over this run. */
export function createTally() {
  const started = Date.now();
  const by = new Map<string, { jobs: number; last: number }>();
  return {
    count(worker: string): void {
      const t = by.get(worker) ?? { jobs: 0, last: 0 };
      by.set(worker, { jobs: t.jobs + 1, last: Date.now() });
    },
    summary(): QueueProgress["workers"] {
      return [...by.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, t]) => ({
          name,
          done: t.jobs,
          failed: 0,
          rate: t.last > started ? (t.jobs * 1000) / (t.last - started) : 0,
        }));
    },
  };
}

/** One line: `queue: 3 workers (a pid 1 4.1 jobs/s, …), 12 waiting, 8 running`. */
export function formatProgress(p: QueueProgress): string {
  const workers = p.workers.map((w) => `${w.name} ${w.rate.toFixed(1)} jobs/s`).join(", ");
  return `queue: ${p.workers.length} worker${p.workers.length === 1 ? "" : "s"}${workers ? ` (${workers})` : ""}, ${p.waiting} waiting, ${p.active} running`;
}
