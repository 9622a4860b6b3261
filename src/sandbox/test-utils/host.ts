import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";

/** Host-side observations for the sandbox suites: processes and a TCP server to reach. */

/** A number nobody else passes to `sleep`, so the process can be found on the host. */
export function uniqueSleep(): string {
  return String(100_000 + Math.floor(Math.random() * 800_000));
}

/** Pids of live (non-zombie) host processes whose argv is exactly `argv`. */
export function processesWithArgv(argv: string[]): number[] {
  const wanted = `${argv.join("\0")}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8") === wanted) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** Waits (up to `ms`) until no process has argv `argv`; returns the pids still alive then. */
export async function processesLeft(argv: string[], ms = 3000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const pids = processesWithArgv(argv);
    if (pids.length === 0 || Date.now() > deadline) return pids;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits (up to `ms`) for a process with argv `argv` to appear. */
export async function waitForProcess(argv: string[], ms = 5000): Promise<number | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const [pid] = processesWithArgv(argv);
    if (pid !== undefined) return pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}

export interface ProbeServer {
  port: number;
  /** Sent to every client that connects. */
  token: string;
  /** How many clients connected so far. */
  connections(): number;
  close(): Promise<void>;
}

/** A TCP server on every IPv4 address of the host that greets each client with a token. */
export async function startProbeServer(): Promise<ProbeServer> {
  const token = `probe-${Math.random().toString(36).slice(2)}`;
  let count = 0;
  const server: Server = createServer((socket) => {
    count += 1;
    socket.end(`${token}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    token,
    connections: () => count,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** 127.0.0.1 and every other IPv4 address of this host. */
export function hostAddresses(): string[] {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((info) => info?.family === "IPv4")
    .map((info) => info?.address ?? "");
  return [...new Set(["127.0.0.1", ...addresses.filter(Boolean)])];
}

/**
 * A shell script that tries to reach `port` on each host and prints what the server sends
 * (nc where there is one, else bash's /dev/tcp). Exits 0 if any connection worked.
 */
export function networkProbe(hosts: string[], port: number): string {
  return [
    "ok=1",
    `for h in ${hosts.join(" ")}; do`,
    `  if command -v nc >/dev/null 2>&1; then nc -w 2 $h ${port} </dev/null && ok=0;`,
    `  else timeout 3 bash -c "exec 3<>/dev/tcp/$h/${port} && cat <&3" && ok=0; fi`,
    "done",
    "exit $ok",
  ].join("\n");
}
