import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { commandLine } from "./compose.js";

/** What `sh` runs for a compose command: each word on its own line. */
function words(
  command: string | string[] | undefined,
  env: Record<string, string> = {},
  entrypoint?: string | string[],
): string[] {
  const line = commandLine(command, env, entrypoint);
  return execFileSync("/bin/sh", ["-c", `set -- ${line}; for w in "$@"; do printf '%s\\n' "$w"; done`], {
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin", TOP: "host-value" },
  })
    .split("\n")
    .slice(0, -1);
}

describe("compose command words", () => {
  it("entrypoint is honoured as compose does: its words first, then the command's as arguments", () => {
    expect(words("-k test_x", {}, ["pytest", "-q"])).toEqual(["pytest", "-q", "-k", "test_x"]);
    expect(words(undefined, { D: "/code/rundir" }, "sh -c 'cd $D'")).toEqual(["sh", "-c", "cd /code/rundir"]);
    expect(words(["a b"], {}, undefined)).toEqual(["a b"]);
  });

  it("a string command is split into words like compose, not run by a shell: && ; | * $( ) are plain words", () => {
    expect(words("echo one && false; ls | wc * $(id)")).toEqual([
      "echo",
      "one",
      "&&",
      "false;",
      "ls",
      "|",
      "wc",
      "*",
      "$(id)",
    ]);
    expect(words(`pytest -s -o "cache_dir=/code/rundir/a b" '/src/x y.py' a\\ b`)).toEqual([
      "pytest",
      "-s",
      "-o",
      "cache_dir=/code/rundir/a b",
      "/src/x y.py",
      "a b",
    ]);
  });

  it("sh -c '...' keeps its script as one word, so shell syntax in harnesses still works", () => {
    expect(words(`sh -c "cd /code && pytest -v | tee log"`)).toEqual([
      "sh",
      "-c",
      "cd /code && pytest -v | tee log",
    ]);
    const out = execFileSync("/bin/sh", ["-c", commandLine(`sh -c 'echo a && echo b'`, {})], {
      encoding: "utf8",
    });
    expect(out).toBe("a\nb\n");
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's syntax, not a template
  it("$VAR and ${VAR:-x} come from the service's environment, never the host's; $$ is a dollar", () => {
    expect(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's syntax, not a template
      words("run $TOP ${TOP} ${MISSING:-dflt} ${EMPTY-set} $MISSING $$TOP", { TOP: "tb", EMPTY: "" }),
    ).toEqual(["run", "tb", "tb", "dflt", "$TOP"]); // empty expansions are no words, as in compose
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's syntax, not a template
    expect(words(["sh", "/src/${SCRIPT}", "a b"], { SCRIPT: "run.sh" })).toEqual([
      "sh",
      "/src/run.sh",
      "a b",
    ]);
  });

  it("an unterminated quote is an error", () => {
    expect(() => commandLine(`echo "open`, {})).toThrow();
  });
});
