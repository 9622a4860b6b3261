/**
 * The viewer's HTTP server: plain `node:http` (a handful of GET routes, a server-sent event stream
 * and file streaming need no framework, and the path handling stays in one auditable place).
 *
 * - Binds 127.0.0.1 by default and then only answers requests whose Host is a loopback name (a web
 *   page elsewhere cannot reach it through DNS rebinding). On any other address it requires a
 *   random token, given once in the URL (`?token=`) and then kept in an HttpOnly cookie.
 * - Every response carries a Content-Security-Policy that allows only this origin's script and
 *   style, no inline script, no frames; the page renders model text with `textContent` only.
 * - URLs name experiments, trials and files by single segments that must stay under the served
 *   directory after symlinks are resolved (paths.ts): 404 or 403 otherwise.
 */
import { timingSafeEqual } from "node:crypto";
import { createReadStream } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { clientScript, PAGE_CSS, shellHtml } from "./assets.js";
import { type HolderAlive, RunData } from "./data.js";
import { PathError, resolveInside, safeSegment } from "./paths.js";
import { ROW_STATUSES, type RowQuery, type RowStatus, SORT_KEYS, type SortKey } from "./trial-index.js";

export interface ViewerOptions {
  /** The directory of experiments (`runs/`). */
  dir: string;
  /** Address to bind; default 127.0.0.1. Any non-loopback address requires a token. */
  host?: string;
  /** Port; 0 picks a free one. */
  port?: number;
  /** Access token; default: none on loopback, a random one otherwise. */
  token?: string | null;
  /** How often live pages check the files for new rows (ms). */
  pollMs?: number;
  /**
   * Whether a lock holder is alive (the CLI passes pipeline/lock.ts's `ownerAlive`): a run whose
   * holders are all dead is shown as interrupted, not running. Default: every lock counts as live.
   */
  holderAlive?: HolderAlive;
}

export interface Viewer {
  url: string;
  server: Server;
  token: string | null;
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "X-Frame-Options": "DENY",
};
const COOKIE = "benchline_view";

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Starts the viewer over `dir` and resolves once it listens.
 *
 * @example
 * const viewer = await startViewer({ dir: "runs" });
 * console.log(viewer.url);
 */
export async function startViewer(options: ViewerOptions): Promise<Viewer> {
  const host = options.host ?? "127.0.0.1";
  const token = options.token !== undefined ? options.token : isLoopback(host) ? null : randomToken();
  const data = new RunData(options.dir, options.holderAlive);
  const script = clientScript();
  const streams = new Set<ServerResponse>();
  let port = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof PathError)
        return send(res, error.status, "text/plain", `${error.status} ${error.message}`);
      if (!res.headersSent) send(res, 500, "text/plain", "500 internal error");
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://viewer.invalid");
    if (req.method !== "GET" && req.method !== "HEAD")
      return send(res, 405, "text/plain", "405 method not allowed");
    if (token === null) {
      const h = (req.headers.host ?? "").toLowerCase();
      const okHosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
      if (!okHosts.includes(h) && !(isLoopback(host) && h === `${host}:${port}`))
        return send(res, 403, "text/plain", "403 unexpected Host header");
    } else {
      const given = url.searchParams.get("token");
      if (given !== null && sameSecret(given, token)) {
        res.setHeader("Set-Cookie", `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
      } else if (!sameSecret(cookieOf(req, COOKIE) ?? "", token)) {
        return send(
          res,
          403,
          "text/plain",
          "403 this viewer needs its access token: open the URL it printed",
        );
      }
    }
    // Split before decoding: an encoded slash stays inside its segment (and is refused there).
    const parts = url.pathname.split("/").slice(1);
    const [head, ...rest] = parts;
    if (head === "" || head === "e") return send(res, 200, "text/html; charset=utf-8", shellHtml());
    if (head === "assets" && rest.length === 1) {
      if (rest[0] === "app.js") return send(res, 200, "text/javascript; charset=utf-8", script);
      if (rest[0] === "app.css") return send(res, 200, "text/css; charset=utf-8", PAGE_CSS);
    }
    if (head === "raw") return raw(res, rest);
    if (head === "api") return api(req, res, rest, url.searchParams);
    throw new PathError(404, "not found");
  }

  async function api(
    req: IncomingMessage,
    res: ServerResponse,
    p: string[],
    q: URLSearchParams,
  ): Promise<void> {
    if (p.length === 1 && p[0] === "experiments") return json(res, data.experiments());
    if (p[0] !== "e" || p.length < 2) throw new PathError(404, "not found");
    const exp = safeSegment(p[1]!);
    const tail = p.slice(2);
    if (tail.length === 0) return json(res, await data.experiment(exp));
    if (tail[0] === "chart" && tail.length === 2) {
      const name = safeSegment(tail[1]!).replace(/\.svg$/, "");
      const svg = await data.chart(exp, name);
      res.setHeader("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
      return send(res, 200, "image/svg+xml; charset=utf-8", svg);
    }
    if (tail[0] === "events" && tail.length === 1) return events(req, res, exp);
    if (tail[0] === "compare" && tail.length === 3) {
      const page = pageOf(q);
      return json(
        res,
        await data.disagreements(exp, safeSegment(tail[1]!), safeSegment(tail[2]!), page.offset, page.limit),
      );
    }
    if (tail[0] === "t" && tail.length >= 3) {
      const trial = safeSegment(tail[1]!);
      if (tail[2] === "rows" && tail.length === 3) {
        const index = await data.index(exp, trial);
        const started = performance.now();
        const result = await index.query(rowQuery(q));
        return json(res, {
          ...result,
          facets: index.facets(),
          progress: index.progress(),
          primary_scorer: index.primary,
          running: data.state(data.experimentDir(exp)) === "running",
          ms: Math.round(performance.now() - started),
        });
      }
      if (tail[2] === "s" && tail.length === 5) {
        const id = decodeSegment(tail[3]!);
        const sample = Number(tail[4]);
        if (!Number.isInteger(sample) || sample < 0) throw new PathError(404, "bad sample");
        return json(res, await data.sample(exp, trial, id, sample));
      }
    }
    throw new PathError(404, "not found");
  }

  function raw(res: ServerResponse, segments: string[]): void {
    if (segments.length < 2 || segments.length > 3) throw new PathError(404, "not found");
    const path = resolveInside(options.dir, segments, "file");
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "Content-Type": "text/plain; charset=utf-8",
      "Content-Disposition": "inline",
      "Cache-Control": "no-store",
    });
    createReadStream(path).pipe(res);
  }

  /** Server-sent events: `update` whenever the experiment's files change (checked every pollMs). */
  async function events(req: IncomingMessage, res: ServerResponse, exp: string): Promise<void> {
    let last = data.fingerprint(exp);
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
    });
    res.write("retry: 1000\n\n");
    streams.add(res);
    let busy = false;
    const timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        const now = data.fingerprint(exp);
        if (now !== last) {
          last = now;
          const e = await data.experiment(exp);
          const progress = e.trials.map((t) => ({
            name: t.name,
            progress: t.progress,
            expected: t.expected,
            summary: t.summary !== null,
          }));
          res.write(
            `event: update\ndata: ${JSON.stringify({ running: e.running, interrupted: e.interrupted, trials: progress })}\n\n`,
          );
        } else res.write(": ping\n\n");
      } catch {
        // the experiment went away: the stream stays open and quiet
      } finally {
        busy = false;
      }
    }, options.pollMs ?? 1000);
    const stop = () => {
      clearInterval(timer);
      streams.delete(res);
    };
    req.on("close", stop);
    res.on("close", stop);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  const url = `http://${shown}:${port}/${token ? `?token=${token}` : ""}`;
  return {
    url,
    server,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        data.saveAll();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---- internal helpers ----

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Content-Type": type,
    "Cache-Control": "no-store",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

function json(res: ServerResponse, value: unknown): void {
  send(res, 200, "application/json; charset=utf-8", JSON.stringify(value));
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new PathError(404, "bad escape");
  }
}

function pageOf(q: URLSearchParams): { offset: number; limit: number } {
  const offset = Math.max(0, Math.floor(Number(q.get("offset") ?? 0)) || 0);
  const limit = Math.min(500, Math.max(1, Math.floor(Number(q.get("limit") ?? 50)) || 50));
  return { offset, limit };
}

function rowQuery(q: URLSearchParams): RowQuery {
  const num = (k: string): number | undefined => {
    const v = q.get(k);
    if (v === null || v === "") return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  const str = (k: string): string | undefined => {
    const v = q.get(k);
    return v === null || v === "" ? undefined : v;
  };
  const status = str("status");
  const sort = str("sort");
  return {
    ...pageOf(q),
    status: ROW_STATUSES.includes(status as RowStatus) ? (status as RowStatus) : undefined,
    category: str("category"),
    error: str("error"),
    scoreMin: num("min"),
    scoreMax: num("max"),
    text: str("q"),
    sort: SORT_KEYS.includes(sort as SortKey) ? (sort as SortKey) : "order",
    desc: q.get("desc") === "1",
  };
}

function randomToken(): string {
  return crypto.getRandomValues(new Uint8Array(24)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "");
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}
