import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import zlib from "node:zlib";
import { Agent, EnvHttpProxyAgent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { createJsonClient, onAbort, undiciAgent, undiciEnvProxyAgent } from "./http.js";
import { startOpenAIServer, TEST_CERT } from "./test-utils/openai-server.js";

/**
 * A raw TCP server that answers each HTTP request with whatever `respond` writes, byte for byte,
 * so the client's framing code meets the shapes real servers send.
 */
async function rawServer(respond: (socket: net.Socket, index: number) => void) {
  const connections: net.Socket[] = [];
  let requests = 0;
  const server = net.createServer((socket) => {
    connections.push(socket);
    let buffer = "";
    socket.on("data", (chunk) => {
      buffer += chunk.toString("latin1");
      for (;;) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        buffer = buffer.slice(end + 4 + length);
        respond(socket, requests++);
      }
    });
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/v1/chat/completions`),
    connections,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of connections) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});
const start = async (respond: (socket: net.Socket, index: number) => void) => {
  const server = await rawServer(respond);
  servers.push(server);
  return server;
};
const options = () => ({ headers: {}, signal: new AbortController().signal });
const json = (value: unknown) => {
  const body = JSON.stringify(value);
  return `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
};

describe("createJsonClient (undici)", () => {
  it("loads the same dispatcher classes as undici's public index, from their own modules", () => {
    expect(undiciAgent()).toBe(Agent);
    expect(undiciEnvProxyAgent()).toBe(EnvHttpProxyAgent);
  });

  it("keeps connections alive across sequential requests", async () => {
    const server = await start((socket, i) => socket.write(json({ i })));
    const client = createJsonClient();
    for (let i = 0; i < 10; i++) expect(await client.post(server.url, { q: i }, options())).toEqual({ i });
    // undici may open a second connection before it sees the first one idle; never one per request.
    expect(server.connections.length).toBeLessThanOrEqual(2);
    await client.close();
  });

  it("decodes chunked bodies split anywhere, even inside a UTF-8 character", async () => {
    const body = Buffer.from(JSON.stringify({ text: "naïve café — ok" }));
    const server = await start((socket) => {
      const parts = [body.subarray(0, 11), body.subarray(11, 12), body.subarray(12)];
      socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (const part of parts) {
        socket.write(`${part.length.toString(16)}\r\n`);
        socket.write(part);
        socket.write("\r\n");
      }
      socket.write("0\r\n\r\n");
    });
    const client = createJsonClient();
    expect(await client.post(server.url, {}, options())).toEqual({ text: "naïve café — ok" });
    expect(await client.post(server.url, {}, options())).toEqual({ text: "naïve café — ok" });
    await client.close();
  });

  it("reads a body without length until the connection closes, and never reuses that connection", async () => {
    const server = await start((socket) => {
      socket.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"until": "close"}');
    });
    const client = createJsonClient();
    expect(await client.post(server.url, {}, options())).toEqual({ until: "close" });
    expect(await client.post(server.url, {}, options())).toEqual({ until: "close" });
    expect(server.connections).toHaveLength(2);
    await client.close();
  });

  it("decompresses gzip, deflate and br bodies, and refuses an unknown encoding", async () => {
    const value = { text: "compressed ".repeat(50) };
    const raw = Buffer.from(JSON.stringify(value));
    const encoded: [string, Buffer][] = [
      ["gzip", zlib.gzipSync(raw)],
      ["deflate", zlib.deflateSync(raw)],
      ["br", zlib.brotliCompressSync(raw)],
      ["snappy", raw],
    ];
    const server = await start((socket, i) => {
      const [encoding, body] = encoded[i % encoded.length]!;
      socket.write(
        `HTTP/1.1 200 OK\r\nContent-Encoding: ${encoding}\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body);
    });
    const client = createJsonClient();
    for (let i = 0; i < 3; i++) expect(await client.post(server.url, {}, options())).toEqual(value);
    await expect(client.post(server.url, {}, options())).rejects.toMatchObject({ code: "bad_response" });
    await client.close();
  });

  it("opens a new connection when the server closed an idle one", async () => {
    const server = await start((socket) => {
      socket.write(json({ ok: true }));
      setTimeout(() => socket.destroy(), 20); // a short server keep-alive timeout
    });
    const client = createJsonClient();
    await client.post(server.url, {}, options());
    await new Promise((r) => setTimeout(r, 60));
    expect(await client.post(server.url, {}, options())).toEqual({ ok: true });
    expect(server.connections).toHaveLength(2);
    await client.close();
  });

  it("codes protocol errors, status errors with Retry-After, non-JSON bodies, and a connection cut mid-body", async () => {
    const answers = [
      "SPDY/3 200 OK\r\n\r\n",
      "HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy",
      "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 38\r\n\r\n<html><h1>502 Bad Gateway</h1></html>\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!",
      'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut',
    ];
    const server = await start((socket, i) => {
      socket.write(answers[i] ?? "");
      if (i === 0 || i === 4) socket.destroy();
    });
    const client = createJsonClient();
    const fail = () => client.post(server.url, {}, options()).catch((e: unknown) => e);
    expect(await fail()).toMatchObject({ code: "bad_response" });
    expect(await fail()).toMatchObject({ code: "http_503", status: 503, retryAfterMs: 7000 });
    const html = await fail();
    expect(html).toMatchObject({ code: "http_502", status: 502 });
    expect((html as Error).message).toContain("<html><h1>502 Bad Gateway</h1></html>");
    expect((html as Error).message).toContain(server.url.href);
    const notJson = await fail();
    expect(notJson).toMatchObject({ code: "bad_response" });
    expect((notJson as Error).message).toContain("not json!");
    expect(await fail()).toMatchObject({ code: "connection" });
    await client.close();
  });

  it("401 and 403 are fatal auth errors naming the URL", async () => {
    const server = await start((socket, i) =>
      socket.write(
        `HTTP/1.1 ${i === 0 ? "401 Unauthorized" : "403 Forbidden"}\r\nContent-Length: 2\r\n\r\nno`,
      ),
    );
    const client = createJsonClient();
    for (const status of [401, 403]) {
      const error = await client.post(server.url, {}, options()).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "auth", status, fatal: true });
      expect((error as Error).message).toContain(server.url.href);
    }
    await client.close();
  });

  it("a refused connection, an unknown host and an untrusted certificate are fatal, coded, and name the URL", async () => {
    const client = createJsonClient();
    const closedPort = await freePort();
    const refused = await client
      .post(new URL(`http://127.0.0.1:${closedPort}/v1/chat/completions`), {}, options())
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "connection_refused", fatal: true });
    expect((refused as Error).message).toBe(
      `connection refused to http://127.0.0.1:${closedPort}/v1 — is the server running? set base_url`,
    );
    const dns = await client
      .post(new URL("http://no-such-host.invalid/v1/chat/completions"), {}, options())
      .catch((e: unknown) => e);
    expect(dns).toMatchObject({ code: "dns", fatal: true });
    expect((dns as Error).message).toContain("no-such-host.invalid");
    const https = await startOpenAIServer({ tls: true });
    servers.push(https);
    const untrusted = await client
      .post(new URL(`${https.url}/chat/completions`), {}, options())
      .catch((e: unknown) => e);
    expect(untrusted).toMatchObject({ code: "tls", fatal: true });
    expect((untrusted as Error).message).toContain(https.url);
    expect((untrusted as Error).message).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    await client.close();
  });

  it("trusts a certificate given as ca, or any with insecure", async () => {
    const https = await startOpenAIServer({ tls: true });
    servers.push(https);
    const url = new URL(`${https.url}/chat/completions`);
    const body = { messages: [{ role: "user", content: "hi" }] };
    for (const client of [
      createJsonClient({ ca: readFileSync(TEST_CERT, "utf8") }),
      createJsonClient({ insecure: true }),
    ]) {
      expect(await client.post(url, body, options())).toMatchObject({ choices: [{ index: 0 }] });
      await client.close();
    }
  });

  it("goes through HTTP_PROXY (CONNECT) unless NO_PROXY names the host", async () => {
    const target = await start((socket, i) => socket.write(json({ i })));
    const proxy = await startConnectProxy();
    servers.push(proxy);
    const names = ["HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"];
    const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
    try {
      process.env.HTTP_PROXY = proxy.url;
      process.env.http_proxy = proxy.url; // undici reads the lower-case names first
      delete process.env.NO_PROXY;
      delete process.env.no_proxy;
      const proxied = createJsonClient();
      expect(await proxied.post(target.url, {}, options())).toEqual({ i: 0 });
      await proxied.close();
      expect(proxy.tunnels).toEqual([target.url.host]);
      process.env.NO_PROXY = "127.0.0.1";
      process.env.no_proxy = "127.0.0.1";
      const direct = createJsonClient();
      expect(await direct.post(target.url, {}, options())).toEqual({ i: 1 });
      await direct.close();
      expect(proxy.tunnels).toHaveLength(1);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it("refuses header values with line breaks (no header injection)", async () => {
    const client = createJsonClient();
    const url = new URL("http://127.0.0.1:9/x");
    const headers = { "x-note": "a\r\nx-evil: 1" };
    await expect(client.post(url, {}, { ...options(), headers })).rejects.toMatchObject({
      code: "bad_request",
    });
    await client.close();
  });
});

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A forward proxy that only tunnels (CONNECT), recording each tunnel's target. */
async function startConnectProxy() {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels.push(req.url ?? "");
    const [host, port] = (req.url ?? "").split(":");
    const upstream = net.connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("onAbort", () => {
  it("fans one abort listener out to many waiters, and honours unsubscribe", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    const controller = new AbortController();
    const calls: number[] = [];
    const unsubscribers = Array.from({ length: 100 }, (_, i) =>
      onAbort(controller.signal, () => calls.push(i)),
    );
    unsubscribers[7]?.();
    controller.abort();
    await new Promise((r) => setTimeout(r, 10));
    process.off("warning", onWarning);
    expect(calls).toHaveLength(99);
    expect(calls).not.toContain(7);
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    let late = false;
    onAbort(controller.signal, () => {
      late = true;
    });
    await Promise.resolve();
    expect(late).toBe(true); // subscribing to an aborted signal still fires
  });
});

describe("per-request timeouts (timeoutMs: undici's own timers, no timer of ours)", () => {
  it("a server that never answers, or stops half way through the body, fails with code timeout naming the limit", async () => {
    const silent = await start(() => undefined);
    const client = createJsonClient();
    const started = Date.now();
    await expect(client.post(silent.url, { x: 1 }, { ...options(), timeoutMs: 300 })).rejects.toMatchObject({
      code: "timeout",
      message: "no response within 300 ms",
    });
    // undici checks these timers about every half second.
    expect(Date.now() - started).toBeLessThan(3000);
    const half = await start((socket) =>
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":'),
    );
    await expect(client.post(half.url, { x: 1 }, { ...options(), timeoutMs: 300 })).rejects.toMatchObject({
      code: "timeout",
    });
    // An answer in time is unaffected, on the same client.
    const quick = await start((socket) => socket.write(json({ ok: true })));
    await expect(client.post(quick.url, {}, { ...options(), timeoutMs: 300 })).resolves.toEqual({ ok: true });
    await client.close();
  });
});
