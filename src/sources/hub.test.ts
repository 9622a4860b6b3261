import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureFile, hubSettings } from "./hub.js";

describe("hub settings and file safety", () => {
  it("reads HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE and the cache directory from the environment", () => {
    expect(hubSettings({})).toEqual({
      endpoint: "https://huggingface.co",
      offline: false,
      cacheDir: join(homedir(), ".cache", "benchline"),
    });
    const s = hubSettings({
      HF_ENDPOINT: "http://mirror.local/hf/",
      HF_TOKEN: " hf_x ",
      HF_HUB_OFFLINE: "1",
      XDG_CACHE_HOME: "/xdg",
    });
    expect(s).toEqual({
      endpoint: "http://mirror.local/hf",
      token: "hf_x",
      offline: true,
      cacheDir: "/xdg/benchline",
    });
    expect(hubSettings({ BENCHLINE_CACHE_DIR: "/c", XDG_CACHE_HOME: "/xdg" }).cacheDir).toBe("/c");
    expect(hubSettings({ HF_HUB_OFFLINE: "0" }).offline).toBe(false);
    expect(hubSettings({}, { offline: true }).offline).toBe(true);
  });

  it("refuses a listed file path that would leave the cache, before any download", async () => {
    const s = { ...hubSettings({ BENCHLINE_CACHE_DIR: "/nonexistent" }), endpoint: "http://127.0.0.1:9" };
    const snapshot = {
      repo: { kind: "datasets" as const, name: "o/n" },
      sha: "a".repeat(40),
      revision: "main",
      files: [],
    };
    for (const path of ["../../etc/passwd", "a//b", "./x", "a\\\\..\\\\b"])
      await expect(ensureFile(snapshot, { path, size: 1, hash: "git:0" }, s)).rejects.toThrow(
        `hf:o/n: the hub listed an unsafe file path "${path}"`,
      );
  });
});
