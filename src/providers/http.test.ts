import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createJsonClient, onAbort } from "./http.js";

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

describe("createJsonClient", () => {
  it("reuses one keep-alive connection for sequential requests", async () => {
    const server = await start((socket, i) => socket.write(json({ i })));
    const client = createJsonClient();
    for (let i = 0; i < 5; i++) expect(await client.post(server.url, { q: i }, options())).toEqual({ i });
    expect(server.connections).toHaveLength(1);
    client.close();
  });

  it("decodes chunked bodies split anywhere, even inside a UTF-8 character", async () => {
    const body = Buffer.from(JSON.stringify({ text: "naïve café — ok" }));
    const server = await start((socket) => {
      const parts = [body.subarray(0, 11), body.subarray(11, 12), body.subarray(12)];
      let out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
      socket.write(out);
      for (const part of parts) {
        socket.write(`${part.length.toString(16)}\r\n`);
        socket.write(part);
        socket.write("\r\n");
      }
      out = "0\r\n\r\n";
      socket.write(out);
    });
    const client = createJsonClient();
    expect(await client.post(server.url, {}, options())).toEqual({ text: "naïve café — ok" });
    expect(await client.post(server.url, {}, options())).toEqual({ text: "naïve café — ok" });
    expect(server.connections).toHaveLength(1);
    client.close();
  });

  it("reads a body without length until the connection closes, and skips 100 Continue", async () => {
    const server = await start((socket) => {
      socket.write("HTTP/1.1 100 Continue\r\n\r\n");
      socket.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"until": "close"}');
    });
    const client = createJsonClient();
    expect(await client.post(server.url, {}, options())).toEqual({ until: "close" });
    expect(await client.post(server.url, {}, options())).toEqual({ until: "close" });
    expect(server.connections).toHaveLength(2); // never reused after Connection: close
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
  });

  it("codes protocol errors, status errors with Retry-After, and a connection cut mid-body", async () => {
    const answers = [
      "SPDY/3 200 OK\r\n\r\n",
      "HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy",
      'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut',
    ];
    const server = await start((socket, i) => {
      socket.write(answers[i] ?? "");
      if (i !== 1) socket.destroy();
    });
    const client = createJsonClient();
    const fail = () => client.post(server.url, {}, options()).catch((e: unknown) => e);
    expect(await fail()).toMatchObject({ code: "bad_response" });
    expect(await fail()).toMatchObject({ code: "http_503", status: 503, retryAfterMs: 7000 });
    expect(await fail()).toMatchObject({ code: "connection" });
  });

  it("refuses header values with line breaks (no header injection)", async () => {
    const client = createJsonClient();
    const url = new URL("http://127.0.0.1:9/x");
    const headers = { "x-note": "a\r\nx-evil: 1" };
    await expect(client.post(url, {}, { ...options(), headers })).rejects.toMatchObject({
      code: "bad_request",
    });
  });
});

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
