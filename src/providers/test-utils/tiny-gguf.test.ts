import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildTinyGguf,
  predictGreedy,
  renderTinyChat,
  TINY_CHAT_TEMPLATE,
  TINY_VOCAB_SIZE,
  tinyTopLogprob,
  writeTinyGguf,
} from "./tiny-gguf.js";

const dir = await mkdtemp(join(tmpdir(), "benchline-tiny-gguf-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("tiny GGUF", () => {
  it("writes a small GGUF v3 file with aligned tensor data", async () => {
    const path = await writeTinyGguf(join(dir, "tiny.gguf"));
    expect((await stat(path)).size).toBeLessThan(1024 * 1024);
    const bytes = buildTinyGguf();
    expect(bytes.subarray(0, 4).toString("ascii")).toBe("GGUF");
    expect(bytes.readUInt32LE(4)).toBe(3);
    expect(bytes.length % 32).toBe(0);

    const info = await readGgufFileInfo(path, { logWarnings: false });
    expect(info.version).toBe(3);
    const metadata = info.metadata as unknown as {
      general: { architecture: string; alignment: number };
      tokenizer: { ggml: { model: string; tokens: string[] }; chat_template: string };
    };
    expect(metadata.general.architecture).toBe("llama");
    expect(metadata.general.alignment).toBe(32);
    expect(metadata.tokenizer.ggml.model).toBe("llama");
    expect(metadata.tokenizer.ggml.tokens).toHaveLength(TINY_VOCAB_SIZE);
    expect(metadata.tokenizer.chat_template).toBe(TINY_CHAT_TEMPLATE);
    expect(info.tensorInfo?.map((t) => t.name)).toContain("output.weight");
    for (const t of info.tensorInfo ?? []) expect(Number(t.offset) % 32).toBe(0);
  });

  it("predicts the greedy alphabet chain", () => {
    expect(predictGreedy("hello wor")).toEqual({ text: "stuvwxyz", tokens: 9, finishReason: "stop" });
    expect(predictGreedy("").text).toBe("abcdefghijklmnopqrstuvwxyz");
    expect(predictGreedy("Hi!", 3)).toEqual({ text: "abc", tokens: 3, finishReason: "length" });
    expect(predictGreedy("xyz")).toEqual({ text: "", tokens: 1, finishReason: "stop" });
    expect(predictGreedy("The end.", 4)).toEqual({ text: " abc", tokens: 4, finishReason: "length" });
    expect(renderTinyChat([{ role: "user", content: "hi" }])).toBe(
      "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    );
    expect(tinyTopLogprob()).toBeCloseTo(-0.1066, 3);
  });
});
