/**
 * Runs a job of index-worker.ts in a worker thread (one thread per job, ended when it is done, so
 * its memory is given back), handing its messages to `onMessage` as they arrive. Where a worker
 * cannot start, the job runs on this thread instead.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Job, JobMessage } from "./index-worker.js";

export function runInWorker(job: Job, onMessage: (m: JobMessage) => void = () => {}): Promise<void> {
  // dist/ has the compiled .js; from source (tsx, which workers inherit) the .ts
  const js = new URL("./index-worker.js", import.meta.url);
  const url = existsSync(fileURLToPath(js)) ? js : new URL("./index-worker.ts", import.meta.url);
  let worker: Worker;
  try {
    worker = new Worker(url, { workerData: { benchlineViewerJob: job } });
  } catch {
    return inThisThread(job, onMessage);
  }
  return new Promise<void>((resolve, reject) => {
    let heard = false;
    const finish = (error?: Error) => {
      worker.removeAllListeners();
      void worker.terminate();
      if (error) reject(error);
      else resolve();
    };
    worker.on("message", (m: JobMessage) => {
      heard = true;
      if (m.type === "failed") return finish(new Error(m.message));
      onMessage(m);
      if (m.type === "built" || m.type === "searched") finish();
    });
    worker.on("error", (error) => {
      if (heard) finish(error);
      else {
        worker.removeAllListeners();
        inThisThread(job, onMessage).then(resolve, reject);
      }
    });
    worker.on("exit", () => finish(new Error("viewer worker exited before finishing its job")));
  });
}

async function inThisThread(job: Job, onMessage: (m: JobMessage) => void): Promise<void> {
  const { runJob } = await import("./index-worker.js");
  await runJob(job, onMessage);
}
