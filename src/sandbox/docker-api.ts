import { type IncomingMessage, request } from "node:http";
import { BenchlineError } from "../core/index.js";

/**
 * A small Docker Engine API client over a unix socket (node:http `socketPath`): JSON calls,
 * raw bodies (tar archives) and the multiplexed stdout/stderr stream of `exec`.
 */

export interface DockerConnection {
  socketPath: string;
  /** API version prefix; 1.41 is Docker 20.10, still accepted by current engines. */
  version?: string;
}

export class DockerApiError extends Error {
  override readonly name = "DockerApiError";
  readonly code = "docker_api";
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** `unix:///path/docker.sock` or a plain path to the socket; other schemes are not supported. */
export function dockerSocketPath(host = "unix:///var/run/docker.sock"): string {
  if (host.startsWith("unix://")) return host.slice("unix://".length);
  if (host.includes("://")) {
    throw new BenchlineError("config", `docker host ${host}: only unix:// sockets are supported`);
  }
  return host;
}

export interface DockerRequest {
  method: "GET" | "POST" | "PUT" | "DELETE" | "HEAD";
  path: string;
  /** An object is sent as JSON, a Buffer as a tar archive. */
  body?: unknown;
  /** Stop reading the response body after this many bytes. */
  maxBytes?: number;
}

export interface DockerResponse {
  status: number;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/** One API call; the body is buffered (up to `maxBytes`). Status codes >= 400 throw. */
export async function dockerCall(connection: DockerConnection, call: DockerRequest): Promise<DockerResponse> {
  const response = await open(connection, call);
  const chunks: Buffer[] = [];
  let size = 0;
  const limit = call.maxBytes ?? Number.POSITIVE_INFINITY;
  await new Promise<void>((resolve, reject) => {
    response.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) {
        response.destroy();
        resolve();
      }
    });
    response.on("end", resolve);
    response.on("close", resolve);
    response.on("error", reject);
  });
  const body = Buffer.concat(chunks);
  const status = response.statusCode ?? 0;
  if (status >= 400)
    throw new DockerApiError(status, `docker ${call.method} ${call.path}: ${errorText(body)}`);
  return { status, headers: response.headers, body };
}

export async function dockerJson<T>(connection: DockerConnection, call: DockerRequest): Promise<T> {
  const { body } = await dockerCall(connection, call);
  return (body.length > 0 ? JSON.parse(body.toString("utf8")) : {}) as T;
}

/**
 * Streams a multiplexed response (exec start, attach) to `onFrame` until the daemon closes it
 * or `stop` is called. Each frame is an 8-byte header (stream 1 = stdout, 2 = stderr; 4-byte
 * big-endian length) followed by its payload.
 */
export function dockerStream(
  connection: DockerConnection,
  call: DockerRequest,
  onFrame: (stream: "stdout" | "stderr", payload: Buffer) => void,
): { done: Promise<void>; stop: () => void } {
  let response: IncomingMessage | undefined;
  let stopped = false;
  const done = open(connection, call).then(
    (opened) =>
      new Promise<void>((resolve, reject) => {
        response = opened;
        if (stopped) opened.destroy();
        const status = opened.statusCode ?? 0;
        if (status >= 400) {
          opened.resume();
          reject(new DockerApiError(status, `docker ${call.method} ${call.path}: HTTP ${status}`));
          return;
        }
        let buffered: Buffer = Buffer.alloc(0);
        opened.on("data", (chunk: Buffer) => {
          buffered = buffered.length > 0 ? Buffer.concat([buffered, chunk]) : chunk;
          while (buffered.length >= 8) {
            const length = buffered.readUInt32BE(4);
            if (buffered.length < 8 + length) break;
            onFrame(buffered[0] === 2 ? "stderr" : "stdout", buffered.subarray(8, 8 + length));
            buffered = buffered.subarray(8 + length);
          }
        });
        opened.on("end", resolve);
        opened.on("close", resolve);
        opened.on("error", (error) => (stopped ? resolve() : reject(error)));
      }),
  );
  const stop = (): void => {
    stopped = true;
    response?.destroy();
  };
  return { done, stop };
}

// ---------------------------------------------------------------- internal helpers

function open(connection: DockerConnection, call: DockerRequest): Promise<IncomingMessage> {
  const payload =
    call.body === undefined
      ? undefined
      : Buffer.isBuffer(call.body)
        ? call.body
        : Buffer.from(JSON.stringify(call.body));
  const headers: Record<string, string | number> = {};
  if (payload) {
    headers["Content-Type"] = Buffer.isBuffer(call.body) ? "application/x-tar" : "application/json";
    headers["Content-Length"] = payload.length;
  }
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: connection.socketPath,
        method: call.method,
        path: `/v${connection.version ?? "1.41"}${call.path}`,
        headers,
      },
      resolve,
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function errorText(body: Buffer): string {
  const text = body.toString("utf8");
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON
  }
  return text.trim() || "(empty response)";
}
