import { describe, expect, it } from "vitest";
import { batchLineCompletions, batchSettings, customId, parseBatchResult, parseCustomId } from "./batch.js";

const ok = (custom_id: string, content: string) => ({
  custom_id,
  response: {
    status_code: 200,
    body: {
      choices: [{ index: 0, message: { content }, finish_reason: "stop" }],
      usage: { prompt_tokens: 3, completion_tokens: 1 },
    },
  },
  error: null,
});

describe("batch lines", () => {
  it("custom_ids round-trip any id, including ones with # and :", () => {
    for (const id of ["q1", "a#b", "x:y#3", "", "ünï"]) {
      expect(parseCustomId(customId(id, 7))).toEqual({ id, sample: 7 });
    }
    expect(parseCustomId("plain-id")).toEqual({ id: "plain-id" });
    expect(parseCustomId("ab12cd34:q1#0".slice(9))).toEqual({ id: "q1", sample: 0 });
  });

  it("reads output lines, HTTP failures, error-file lines and expired requests apart", () => {
    expect(parseBatchResult(ok("q#0", "4"), "chat")).toEqual({
      custom_id: "q#0",
      generation: {
        completions: [{ text: "4", finish_reason: "stop" }],
        usage: { prompt_tokens: 3, completion_tokens: 1 },
      },
    });
    expect(
      parseBatchResult(
        { custom_id: "q#1", response: { status_code: 429, body: { error: { message: "slow down" } } } },
        "chat",
      ),
    ).toEqual({ custom_id: "q#1", error: { code: "http_429", message: "slow down" }, retry: false });
    expect(
      parseBatchResult(
        { custom_id: "q#2", response: null, error: { code: "batch_expired", message: "late" } },
        "chat",
      ),
    ).toEqual({ custom_id: "q#2", error: { code: "batch_expired", message: "late" }, retry: true });
    expect(
      parseBatchResult({ custom_id: "q#3", response: { status_code: 200, body: {} } }, "chat"),
    ).toMatchObject({
      error: { code: "bad_response" },
      retry: false,
    });
    expect(parseBatchResult({ nothing: true }, "chat")).toBeUndefined();
  });

  it("import reads chat and raw-completion choices; failed lines give nothing", () => {
    expect(batchLineCompletions(ok("q#0", "hi"))).toEqual(["hi"]);
    expect(
      batchLineCompletions({
        custom_id: "q",
        response: { status_code: 200, body: { choices: [{ text: "raw" }] } },
      }),
    ).toEqual(["raw"]);
    expect(
      batchLineCompletions({ custom_id: "q", response: { status_code: 500, body: {} } }),
    ).toBeUndefined();
  });

  it("settings: defaults, and every field of the object form", () => {
    const spec = (batch: unknown) => ({ id: "m", provider: "openai", params: {}, options: { batch } });
    expect(batchSettings(spec(undefined))).toBeUndefined();
    expect(batchSettings(spec(false))).toBeUndefined();
    expect(batchSettings(spec(true))).toMatchObject({ discount: 0.5, pollMs: 30_000, maxRequests: 50_000 });
    expect(
      batchSettings(
        spec({
          discount: 0.2,
          poll_interval: 2,
          max_requests: 10,
          max_bytes: 1000,
          completion_window: "48h",
        }),
      ),
    ).toEqual({ discount: 0.2, pollMs: 2000, maxRequests: 10, maxBytes: 1000, completionWindow: "48h" });
  });
});
