/**
 * The viewer's worker thread: the long jobs run here, so the server's thread keeps answering pages
 * (other trials, filters and sorts on a built index) meanwhile.
 *
 * - `build`: a trial's index from nothing, over some of its files (the server runs two at once:
 *   prompts.jsonl, and the others), posted back as typed arrays whose buffers are transferred, not
 *   copied; the server joins the two and saves the result. The worker exits after it.
 * - `search`: the start offsets of the lines of some files that contain any of the needles, by
 *   native byte search over large sequential reads, posted in batches as they are found, up to a
 *   cap per file.
 *
 * Started by worker-jobs.ts; `runJob` is the same work for a caller that cannot start a worker.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type FileKind, type IndexParts, scanChunks, TrialIndex } from "./trial-index.js";

export type Job =
  | { type: "build"; dir: string; primary: string | null; kinds: FileKind[] }
  | { type: "search"; files: { path: string; size: number }[]; needles: string[]; cap: number };

export type JobMessage =
  | { type: "built"; parts: IndexParts; transfer: ArrayBuffer[] }
  | { type: "hits"; file: number; starts: Float64Array }
  | { type: "searched"; found: number; capped: boolean }
  | { type: "failed"; message: string };

/** Runs a job, handing each message to `post`. */
export async function runJob(job: Job, post: (m: JobMessage) => void): Promise<void> {
  if (job.type === "build") {
    const index = TrialIndex.open(job.dir, job.primary);
    await index.indexFiles(job.kinds);
    post({ type: "built", ...index.exportParts() });
    return;
  }
  const needles = job.needles.map((n) => Buffer.from(n, "utf8"));
  let capped = false;
  let found = 0;
  for (const [file, { path, size }] of job.files.entries()) {
    let inFile = 0;
    await scanChunks(
      path,
      0,
      size,
      (buf, end, base) => {
        const starts: number[] = [];
        for (const needle of needles) {
          for (let p = buf.indexOf(needle, 0); p >= 0 && p < end; ) {
            if (inFile + starts.length >= job.cap) {
              capped = true;
              break;
            }
            const lineStart = p === 0 ? 0 : buf.lastIndexOf(10, p - 1) + 1;
            starts.push(base + lineStart);
            const lineEnd = buf.indexOf(10, p);
            if (lineEnd < 0 || lineEnd + 1 >= end) break;
            p = buf.indexOf(needle, lineEnd + 1);
          }
        }
        if (starts.length > 0) {
          inFile += starts.length;
          post({ type: "hits", file, starts: Float64Array.from(starts) });
        }
        return inFile < job.cap;
      },
      false,
    );
    found += inFile;
  }
  post({ type: "searched", found, capped });
}

if (parentPort && workerData?.benchlineViewerJob) {
  const port = parentPort;
  runJob(workerData.benchlineViewerJob as Job, (m) => {
    if (m.type === "hits") port.postMessage(m, [m.starts.buffer as ArrayBuffer]);
    else if (m.type === "built") port.postMessage(m, m.transfer);
    else port.postMessage(m);
  }).catch((error: unknown) => {
    port.postMessage({ type: "failed", message: error instanceof Error ? error.message : String(error) });
  });
}
