import { describe, expect, it } from "vitest";
import { StreamSplitter } from "./split-stream.js";

describe("StreamSplitter", () => {
  const split = (chunks: string[]) => {
    const parts: string[] = [];
    const splitter = new StreamSplitter(
      (i) => Buffer.from(`<${i}>`),
      Buffer.from("<END>"),
      5,
      (part, bytes) => {
        parts[part] = (parts[part] ?? "") + bytes.toString();
      },
    );
    for (const chunk of chunks) splitter.push(Buffer.from(chunk));
    if (!splitter.ended) splitter.flush();
    return { parts, ended: splitter.ended };
  };

  it("splits at markers, also when a marker is cut across chunks", () => {
    expect(split(["a<0>b<1>c<END>ignored"])).toEqual({ parts: ["a", "b", "c"], ended: true });
    expect(split(["aa<", "0", ">bb<E", "ND>"])).toEqual({ parts: ["aa", "bb"], ended: true });
    expect(split(["x".repeat(10), "<0", ">y"])).toEqual({ parts: ["x".repeat(10), "y"], ended: false });
  });

  it("only the next part's marker counts; text that merely resembles one stays output", () => {
    expect(split(["a<1>b<0>c<2>d<END>"])).toEqual({ parts: ["a<1>b", "c<2>d"], ended: true });
  });
});
