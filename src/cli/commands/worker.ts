import { Command, InvalidArgumentError } from "commander";
import { positiveInt } from "../options.js";

/** The phases `run --queue` sends to workers (kept here so loading the CLI does not load BullMQ). */
const PHASES_SERVED = ["inference", "execution"];

export function workerCommand(): Command {
  return new Command("worker")
    .summary("serve a queued run (run --queue): take inference jobs from Redis")
    .description(
      "Take jobs of runs started with `benchline run --queue` from Redis and do them with this machine's providers; API keys come from this machine's environment and never travel in jobs. Runs until Ctrl-C (jobs in hand are finished first).",
    )
    .requiredOption("--queue <url>", "Redis to take jobs from: redis://host:port[/db]")
    .option(
      "--concurrency <n>",
      "jobs this worker runs at the same time, per model (inference) and for executions",
      positiveInt,
      4,
    )
    .option(
      "--phases <list>",
      "phases this worker serves (comma-separated)",
      (value: string) => {
        const phases = value.split(",").map((p) => p.trim());
        for (const p of phases)
          if (!PHASES_SERVED.includes(p))
            throw new InvalidArgumentError(
              `"${p}" cannot be queued; queued phases: ${PHASES_SERVED.join(", ")}`,
            );
        return phases;
      },
      PHASES_SERVED,
    )
    .option(
      "--models <ids>",
      "take only these models' inference jobs (comma-separated model ids, as in the experiment file or spec strings); default: every model's",
      (value: string) => {
        const models = value
          .split(",")
          .map((m) => m.trim())
          .filter((m) => m !== "");
        if (models.length === 0) throw new InvalidArgumentError("expected one or more model ids");
        return models;
      },
    )
    .option(
      "--stalled-seconds <s>",
      "a job whose worker stops renewing its lock this long (killed, hung) goes to another worker",
      positiveInt,
      30,
    )
    .action(
      async (flags: {
        queue: string;
        concurrency: number;
        phases: string[];
        models?: string[];
        stalledSeconds: number;
      }) => {
        const log = (line: string): void => void process.stderr.write(`${line}\n`);
        const { startWorker } = await import("../../queue/index.js");
        const worker = await startWorker({
          url: flags.queue,
          concurrency: flags.concurrency,
          phases: flags.phases as ("inference" | "execution")[],
          ...(flags.models ? { models: flags.models } : {}),
          stalledMs: flags.stalledSeconds * 1000,
          env: process.env,
          log,
        });
        // The first Ctrl-C (or SIGTERM) finishes the jobs in hand; the second quits at once (their
        // locks lapse and other workers take them up after --stalled-seconds).
        let signals = 0;
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            signals++;
            if (signals === 1) {
              resolve();
              return;
            }
            log("worker: quitting at once; its jobs in hand go to other workers when their locks lapse");
            process.exit(130);
          };
          process.on("SIGINT", stop);
          process.on("SIGTERM", stop);
        });
        log("worker: stopping after the jobs in hand (Ctrl-C again quits at once)");
        await worker.close();
        log(`worker: ${worker.done} jobs done, ${worker.failed} failed`);
        // Everything this worker owns is closed; a Redis client still reconnecting to a server
        // that went away must not keep the process alive.
        setTimeout(() => process.exit(), 1000).unref();
      },
    );
}
