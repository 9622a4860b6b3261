import { InvalidArgumentError, Option } from "commander";
import type { LogFormat } from "./progress.js";

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive whole number");
  return n;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export const logOption = () =>
  new Option(
    "--log <format>",
    "progress output: a live line on a terminal, periodic lines otherwise, or JSON events",
  )
    .choices(["auto", "tty", "plain", "json"] satisfies LogFormat[])
    .default("auto");

/** Aborts on the first Ctrl-C (finished rows are on disk); a second one exits at once. */
export function interruptSignal(onFirst: () => void): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    onFirst();
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
