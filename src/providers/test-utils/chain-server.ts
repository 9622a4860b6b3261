/**
 * A loopback OpenAI-compatible `/v1/completions` server whose models follow known deterministic
 * token chains, for guided decoding tests: model `m` with prefix `p` writes token `p<i>` at token
 * index i of the continuation (the text after the last `marker` in the prompt, tokenized as
 * /[ \n][^ \n]+/). Models can end (end of sequence) at a given index, be uncertain (four equally
 * likely alternatives) at given indices, and honour `stop`, `max_tokens` and legacy `logprobs`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ChainModel {
  /** Token i is `${prefix}${i}`; the prefix starts with a space or a newline. */
  prefix: string;
  /** Written after the index (`\n\\boxed{` + `}` writes `\n\\boxed{3}`); no space or newline. */
  suffix?: string;
  /** End of sequence when the continuation has this many tokens. */
  eosAt?: number;
  /** Token indices where the next-token distribution is uniform over four tokens (2 bits). */
  uncertainAt?: number[];
  /**
   * The tiny GGUF model's chain instead (`tiny-gguf.ts`, `step`): one token per character, each the
   * letter `letters` after the previous character (past `z`: end of sequence), after a non-letter `a`.
   */
  letters?: number;
  /** Answer every request with no tokens and finish_reason `length` (a misbehaving server). */
  empty?: boolean;
}

export interface ChainServer {
  url: string;
  /** Request bodies, in arrival order. */
  bodies: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startChainServer(
  models: Record<string, ChainModel>,
  marker = "A:",
): Promise<ChainServer> {
  const bodies: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      raw += chunk;
    });
    req.on("end", () => {
      if (req.url !== "/v1/completions") return send(res, 404, { error: { message: "chat is not served" } });
      const body = JSON.parse(raw) as Record<string, unknown>;
      bodies.push(body);
      const model = models[String(body.model)];
      if (!model) return send(res, 404, { error: { message: `no model ${String(body.model)}` } });
      send(res, 200, complete(model, body, marker));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    bodies,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function complete(model: ChainModel, body: Record<string, unknown>, marker: string): unknown {
  if (model.letters !== undefined) return completeLetters(model.letters, body);
  const prompt = String(body.prompt ?? "");
  const at = prompt.lastIndexOf(marker);
  const continuation = at === -1 ? "" : prompt.slice(at + marker.length);
  const start = continuation.match(/[ \n][^ \n]+/g)?.length ?? 0;
  const max = Number(body.max_tokens ?? 16);
  const tokens: string[] = [];
  let finish = "length";
  for (let i = start; tokens.length < max && !model.empty; i++) {
    if (model.eosAt !== undefined && i >= model.eosAt) {
      finish = "stop";
      break;
    }
    tokens.push(`${model.prefix}${i}${model.suffix ?? ""}`);
  }
  let text = tokens.join("");
  const stops = Array.isArray(body.stop) ? (body.stop as string[]) : [];
  for (const stop of stops) {
    const cut = text.indexOf(stop);
    if (cut !== -1) {
      text = text.slice(0, cut);
      finish = "stop";
    }
  }
  const uncertain = new Set(model.uncertainAt ?? []);
  const logprobs =
    body.logprobs === undefined
      ? null
      : {
          tokens,
          token_logprobs: tokens.map((_, j) => Math.log(uncertain.has(start + j) ? 0.25 : 0.97)),
          top_logprobs: tokens.map((token, j) =>
            uncertain.has(start + j)
              ? Object.fromEntries([token, "x1", "x2", "x3"].map((t) => [t, Math.log(0.25)]))
              : { [token]: Math.log(0.97), x1: Math.log(0.01) },
          ),
          text_offset: [],
        };
  return {
    object: "text_completion",
    choices: [{ index: 0, text, finish_reason: finish, logprobs }],
    usage: {
      prompt_tokens: prompt.length,
      completion_tokens: tokens.length,
      total_tokens: prompt.length + tokens.length,
    },
  };
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

function completeLetters(step: number, body: Record<string, unknown>): unknown {
  const prompt = String(body.prompt ?? "");
  const max = Number(body.max_tokens ?? 16);
  let last = prompt.at(-1) ?? "";
  let text = "";
  let tokens = 0;
  let finish = "length";
  while (tokens < max) {
    const i = LETTERS.indexOf(last);
    const next = i === -1 ? "a" : LETTERS[i + step];
    tokens++; // the end-of-sequence token counts, as llama.cpp counts it
    if (next === undefined) {
      finish = "stop";
      break;
    }
    text += next;
    last = next;
  }
  return {
    object: "text_completion",
    choices: [{ index: 0, text, finish_reason: finish, logprobs: null }],
    usage: { prompt_tokens: prompt.length, completion_tokens: tokens, total_tokens: prompt.length + tokens },
  };
}

function send(res: http.ServerResponse, status: number, value: unknown): void {
  const payload = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  res.end(payload);
}
