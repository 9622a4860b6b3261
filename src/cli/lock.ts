import { acquireLock, describeOwner, type Lock, lockDirOf, type Shard } from "../pipeline/lock.js";
import { relativeLabel } from "../pipeline/resolve.js";

/** What `benchline <command>` shows to a second process that finds this one holding a trial. */
const command = (): string => `benchline ${process.argv.slice(2).join(" ")}`;

function waitMessage(label: string) {
  return (owner: Parameters<typeof describeOwner>[0]): void => {
    process.stderr.write(`waiting for ${label}: in use by ${describeOwner(owner)}…\n`);
  };
}

/**
 * The trial lock of a run (`run`, `import`, `execute`): `acquire` is the pipeline's
 * `beforeWrite` hook, so a run that fails its checks takes no lock; `lost` aborts the run if
 * another host takes the lock over after this process stopped renewing it.
 */
export function trialLockFor(
  exp: { dir: string; trials: readonly { name: string }[]; shard?: Shard | undefined },
  options: { wait: boolean; signal: AbortSignal },
): { acquire: () => Promise<void>; release: () => void; lost: AbortSignal } {
  const lost = new AbortController();
  const label = relativeLabel(exp.dir);
  let lock: Lock | undefined;
  return {
    lost: lost.signal,
    acquire: async () => {
      lock = await acquireLock(
        lockDirOf(exp.dir),
        { trials: exp.trials.map((t) => t.name), shard: exp.shard },
        {
          wait: options.wait,
          signal: options.signal,
          command: command(),
          label,
          onWait: waitMessage(label),
          onLost: () => {
            process.stderr.write(
              `benchline: ${label}: this run's lock was taken over by another process (its lease expired); stopping\n`,
            );
            lost.abort(new Error("lock lost"));
          },
        },
      );
    },
    release: () => lock?.release(),
  };
}

/** Every trial of an experiment directory and its experiment.json (`merge` into it). */
export function lockExperiment(dir: string, wait: boolean): Promise<Lock> {
  const label = relativeLabel(dir);
  return acquireLock(
    lockDirOf(dir),
    { trials: "*" },
    { wait, command: command(), label, onWait: waitMessage(label) },
  );
}
