import { BenchlineError, type Sandbox } from "../core/index.js";
import { bwrapDescription, createBwrapSandbox, isBwrapUsable } from "./bwrap.js";
import { createDockerSandbox, dockerDescription } from "./docker.js";
import type { SandboxKindName } from "./kinds.js";
import { createLocalSandbox, localDescription } from "./local.js";

/** Settings a sandbox kind may use; each kind ignores the ones that are not its own. */
export interface SandboxSettings {
  /** docker: the image every run starts a fresh container from (required). */
  image?: string | undefined;
  /** docker: `unix:///var/run/docker.sock` (default) or a socket path. */
  dockerHost?: string | undefined;
  /** docker: CPU cores per container. */
  cpus?: number | undefined;
  /** local, bwrap: where run directories are created (default: the OS temp dir). */
  tmpDir?: string | undefined;
  /** bwrap: more host paths bound read-only (e.g. a toolchain under /opt). */
  readOnlyPaths?: string[] | undefined;
}

export interface SandboxKindEntry {
  description: string;
  create(settings: SandboxSettings): Sandbox;
}

export const sandboxKinds = {
  bwrap: { description: bwrapDescription, create: (settings) => createBwrapSandbox(settings) },
  local: { description: localDescription, create: (settings) => createLocalSandbox(settings) },
  docker: {
    description: dockerDescription,
    create: ({ image, ...settings }) => {
      if (!image) throw new BenchlineError("config", "the docker sandbox needs an image (execution.image)");
      return createDockerSandbox({ ...settings, image });
    },
  },
} satisfies Record<SandboxKindName, SandboxKindEntry>;

export type SandboxKind = keyof typeof sandboxKinds;

export type SandboxConfig = SandboxSettings & { kind: SandboxKind };

/**
 * A sandbox of the configured kind. Every `run` of it uses one fresh sandbox, destroyed after.
 *
 * @example
 * const sandbox = createSandbox({ kind: defaultSandboxKind() });
 * const { steps } = await sandbox.run([{ name: "test", command: "python3 test.py" }], {
 *   timeoutMs: 10_000,
 *   files: { "test.py": "print(1 + 1)" },
 * });
 */
export function createSandbox(config: SandboxConfig): Sandbox {
  const { kind, ...settings } = config;
  const entry: SandboxKindEntry | undefined = sandboxKinds[kind];
  if (!entry) throw new BenchlineError("config", `unknown sandbox kind: ${JSON.stringify(kind)}`);
  return entry.create(settings);
}

/** "bwrap" where bubblewrap works on this machine, else "local" (which does not isolate). */
export function defaultSandboxKind(): SandboxKind {
  return isBwrapUsable() ? "bwrap" : "local";
}
