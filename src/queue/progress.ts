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
 * the last look (the first look: since this run began), and the queues' depth.
 */
export function createProgress(redis: Redis, queues: () => Queue[]) {
  const started = Date.now();
  const last = new Map<string, { done: number; at: number }>();
  const seen = new Map<
    string,
    { first: number; firstAt: number; done: number; failed: number; at: number }
  >();
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
        const s = seen.get(name);
        const first = s?.first ?? beat.done;
        const firstAt = s?.firstAt ?? Math.max(started, beat.at - BEAT_MS);
        seen.set(name, { first, firstAt, done: beat.done, failed: beat.failed, at: beat.at });
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
    /** Every worker seen during the run: jobs it did while seen, and its mean rate. */
    summary(): QueueProgress["workers"] {
      return [...seen.entries()].map(([name, s]) => ({
        name,
        done: s.done - s.first,
        failed: s.failed,
        rate: s.at > s.firstAt ? ((s.done - s.first) * 1000) / (s.at - s.firstAt) : 0,
      }));
    },
  };
}

/** One line: `queue: 3 workers (a pid 1 4.1 jobs/s, …), 12 waiting, 8 running`. */
export function formatProgress(p: QueueProgress): string {
  const workers = p.workers.map((w) => `${w.name} ${w.rate.toFixed(1)} jobs/s`).join(", ");
  return `queue: ${p.workers.length} worker${p.workers.length === 1 ? "" : "s"}${workers ? ` (${workers})` : ""}, ${p.waiting} waiting, ${p.active} running`;
}
