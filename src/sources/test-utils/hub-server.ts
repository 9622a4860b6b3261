/**
 * A loopback Hugging Face hub for tests: the revision endpoint (`/api/{datasets,models}/<repo>/
 * revision/<rev>`, with `sha` and `cardData`), the paginated file listing (`…/tree/<rev>`, Link
 * headers), and `resolve` (LFS files redirect to a content-addressed `/cdn/` URL on another
 * origin, as the hub does). Gated repositories answer 401 without the right bearer token. Every request is counted.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface HubServerRepo {
  kind: "datasets" | "models";
  /** `owner/name`. */
  name: string;
  /** Branch or tag → commit. */
  refs: Map<string, string>;
  commits: Map<string, { files: Map<string, Buffer>; card?: unknown }>;
  /** Bearer token required (a gated repository). */
  token?: string;
}

export interface HubServer {
  url: string;
  /** Request paths in order (`GET /api/…`, `GET /cdn/<sha256>`). */
  requests: string[];
  /** CDN requests that carried an Authorization header (a token must not follow the redirect). */
  stats: { cdnWithAuthorization: number };
  /** Commits `files` to `branch` (default `main`) and returns the new commit's sha. */
  push(
    kind: "datasets" | "models",
    name: string,
    files: Record<string, Buffer | string>,
    options?: { card?: unknown; branch?: string; token?: string },
  ): string;
  close(): Promise<void>;
}

/**
 * The environment of a CLI run against this hub: its URL as HF_ENDPOINT, a cache of the test's own
 * under `dir`, and no token or offline setting inherited from the machine.
 */
export function hubEnv(url: string, dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HF_ENDPOINT: url,
    BENCHLINE_CACHE_DIR: `${dir}/cache`,
    HF_TOKEN: "",
    HF_HUB_OFFLINE: "",
    ...extra,
  };
}

/** Files at least this large (and all `.parquet`/`.gguf`) are served as LFS: sha256, redirect. */
const LFS_MIN = 1024;

export async function startHubServer(options: { pageSize?: number } = {}): Promise<HubServer> {
  const pageSize = options.pageSize ?? 2;
  const repos = new Map<string, HubServerRepo>();
  const blobs = new Map<string, Buffer>();
  const requests: string[] = [];
  let commitCount = 0;

  const isLfs = (path: string, content: Buffer) =>
    content.length >= LFS_MIN || /\.(parquet|gguf)$/.test(path);

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push(`${req.method} ${url.pathname}`);
    try {
      handle(req, res, url);
    } catch (error) {
      json(res, 500, { error: String(error) });
    }
  });
  // LFS content lives on another origin (another port), as the hub's CDN does.
  const stats = { cdnWithAuthorization: 0 };
  const cdnServer = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push(`${req.method} ${url.pathname}`);
    if (req.headers.authorization !== undefined) stats.cdnWithAuthorization++;
    handle(req, res, url);
  });

  function handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const path = decodeURIComponent(url.pathname);
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn) {
      const blob = blobs.get(cdn[1] as string);
      if (!blob) return json(res, 404, { error: "no such blob" });
      res.writeHead(200, { "content-length": blob.length, "content-type": "application/octet-stream" });
      res.end(blob);
      return true;
    }
    const api = /^\/api\/(datasets|models)\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)$/.exec(url.pathname);
    if (api) {
      const [, kind, name, what, rawRev] = api as unknown as [string, string, string, string, string];
      const repo = repos.get(`${kind}/${name}`);
      if (!repo) return json(res, 404, { error: "Repository not found" });
      if (!authorized(repo, req)) return json(res, 401, { error: "Access to this repository is restricted" });
      const rev = decodeURIComponent(rawRev);
      const sha = repo.refs.get(rev) ?? (repo.commits.has(rev) ? rev : undefined);
      const commit = sha ? repo.commits.get(sha) : undefined;
      if (!sha || !commit) return json(res, 404, { error: `Invalid rev id: ${rev}` });
      if (what === "revision")
        return json(res, 200, {
          _id: `id-${name}`,
          id: name,
          sha,
          private: false,
          gated: repo.token ? "auto" : false,
          downloads: 0,
          likes: 0,
          lastModified: "2026-01-01T00:00:00.000Z",
          ...(commit.card !== undefined ? { cardData: commit.card } : {}),
        });
      const entries = [...commit.files.entries()].map(([p, content]) => ({
        type: "file",
        path: p,
        size: content.length,
        oid: gitOid(content),
        ...(isLfs(p, content)
          ? { lfs: { oid: sha256(content), size: content.length, pointerSize: 130 } }
          : {}),
      }));
      const start = Number(url.searchParams.get("cursor") ?? 0);
      const page = entries.slice(start, start + pageSize);
      const headers: Record<string, string> = {};
      if (start + pageSize < entries.length) {
        const next = new URL(url);
        next.searchParams.set("cursor", String(start + pageSize));
        headers.link = `<http://${req.headers.host}${next.pathname}${next.search}>; rel="next"`;
      }
      return json(res, 200, page, headers);
    }
    const resolve = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (resolve) {
      const [, datasets, name, rev, filePath] = resolve as unknown as [
        string,
        string,
        string,
        string,
        string,
      ];
      const repo = repos.get(`${datasets ? "datasets" : "models"}/${name}`);
      if (!repo) return json(res, 404, { error: "Repository not found" });
      if (!authorized(repo, req)) return json(res, 401, { error: "Access to this repository is restricted" });
      const sha = repo.refs.get(rev) ?? rev;
      const content = repo.commits.get(sha)?.files.get(filePath);
      if (!content) return json(res, 404, { error: "Entry not found" });
      if (isLfs(filePath, content)) {
        res.writeHead(302, { location: `${cdnUrl}/cdn/${sha256(content)}` });
        res.end();
        return true;
      }
      res.writeHead(200, { "content-length": content.length });
      res.end(content);
      return true;
    }
    return json(res, 404, { error: "not found" });
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => cdnServer.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const cdnUrl = `http://127.0.0.1:${(cdnServer.address() as AddressInfo).port}`;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stats,
    push(kind, name, files, opts = {}) {
      const key = `${kind}/${name}`;
      const repo: HubServerRepo = repos.get(key) ?? { kind, name, refs: new Map(), commits: new Map() };
      if (opts.token !== undefined) repo.token = opts.token;
      repos.set(key, repo);
      const contents = new Map(Object.entries(files).map(([p, c]) => [p, Buffer.from(c)] as const));
      for (const [p, c] of contents) if (isLfs(p, c)) blobs.set(sha256(c), c);
      const sha = createHash("sha1").update(`${key} ${++commitCount}`).digest("hex");
      repo.commits.set(sha, { files: contents, ...(opts.card !== undefined ? { card: opts.card } : {}) });
      repo.refs.set(opts.branch ?? "main", sha);
      return sha;
    },
    close: async () => {
      for (const srv of [server, cdnServer]) {
        srv.closeAllConnections();
        await new Promise<void>((resolve) => srv.close(() => resolve()));
      }
    },
  };
}

function authorized(repo: HubServerRepo, req: IncomingMessage): boolean {
  return repo.token === undefined || req.headers.authorization === `Bearer ${repo.token}`;
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): boolean {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
  return true;
}

function sha256(content: Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

function gitOid(content: Buffer): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}
