import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { BenchlineError } from "../../core/errors.js";
import type { LockOwner } from "../../pipeline/lock.js";

const port = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new InvalidArgumentError("expected a port number (0–65535)");
  return n;
};

export function viewCommand(): Command {
  return new Command("view")
    .summary("browse run directories in a local web viewer (live while runs go on)")
    .description(
      "Serve a web viewer over a directory of experiments: experiments, trials with scores, comparisons and charts, every sample (filter, sort, search), two trials side by side, live progress of running experiments. Binds 127.0.0.1; on any other --host it requires the random access token in the printed URL. Keeps an index beside each trial's files (.benchline-view.idx).",
    )
    .argument("[dir]", "directory of experiments", "runs")
    .option("--port <n>", "port (0: any free port)", port, 8300)
    .option("--host <address>", "address to bind; other than loopback, a token is required", "127.0.0.1")
    .option("--open", "open the viewer in a browser ($BROWSER, else xdg-open/open)")
    .action(async (dir: string, flags: { port: number; host: string; open?: boolean }) => {
      if (!existsSync(dir) || !statSync(dir).isDirectory())
        throw new BenchlineError("usage", `view: ${dir}: not a directory`);
      if (existsSync(join(dir, "experiment.json")))
        throw new BenchlineError(
          "usage",
          `view: ${dir} is an experiment; name the directory that holds experiments (${dirname(resolve(dir))})`,
        );
      // Loaded here: other commands do not pay for the viewer.
      const { startViewer } = await import("../../viewer/index.js");
      // A run whose lock holders are all dead shows as interrupted: the lock's own liveness check.
      const { ownerAlive } = await import("../../pipeline/lock.js");
      const holderAlive = (owner: unknown): boolean => ownerAlive(owner as LockOwner);
      let viewer: Awaited<ReturnType<typeof startViewer>>;
      try {
        viewer = await startViewer({ dir, host: flags.host, port: flags.port, holderAlive });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === "EADDRINUSE" && flags.port !== 0) {
          process.stderr.write(`view: port ${flags.port} is in use; using a free port\n`);
          viewer = await startViewer({ dir, host: flags.host, port: 0, holderAlive });
        } else if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EACCES")
          throw new BenchlineError(
            "usage",
            `view: cannot listen on ${flags.host}:${flags.port} (${String(code)})`,
          );
        else throw error;
      }
      process.stdout.write(`benchline view: serving ${dir} at ${viewer.url}\n`);
      if (viewer.token) process.stdout.write("(open the URL with its token; Ctrl-C stops the viewer)\n");
      else process.stdout.write("(Ctrl-C stops the viewer)\n");
      if (flags.open) await openBrowser(viewer.url);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void viewer.close().then(resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}

/** node:child_process loads here: on every other command's path it costs ≈10 ms of start-up. */
async function openBrowser(url: string): Promise<void> {
  const { spawn } = await import("node:child_process");
  const command =
    process.env.BROWSER ??
    (process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open");
  const child = spawn(command, [url], { detached: true, stdio: "ignore" });
  child.on("error", () => process.stderr.write(`view: could not start ${command}; open ${url} yourself\n`));
  child.unref();
}
