import { quote, split } from "shlex";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/**
 * A harness's `docker-compose.yml`, as far as CVDP uses it: services built from a Dockerfile or run
 * from an image, with volumes, `env_file`, `environment`, `command` and `working_dir`. Parsed with
 * the `yaml` library; `entrypoint` is honoured as compose does (its words, then the command's);
 * anything else in a service is kept out of the way, not interpreted.
 */

const stringList = z.union([z.string(), z.array(z.string())]);

const service = z.looseObject({
  image: z.string().optional(),
  build: z
    .union([z.string(), z.looseObject({ context: z.string().optional(), dockerfile: z.string().optional() })])
    .optional(),
  volumes: z
    .array(
      z.union([
        z.string(),
        z.looseObject({ source: z.string(), target: z.string(), read_only: z.boolean().optional() }),
      ]),
    )
    .default([]),
  env_file: stringList.optional(),
  environment: z
    .union([
      z.array(z.string()),
      z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    ])
    .optional(),
  command: stringList.optional(),
  entrypoint: stringList.optional(),
  working_dir: z.string().optional(),
  networks: z.unknown().optional(),
});

const composeFile = z.looseObject({
  services: z.record(
    z.string(),
    service.nullable().transform((s) => s ?? service.parse({})),
  ),
  networks: z.unknown().optional(),
});

export interface Volume {
  /** As written (relative to the harness dir, or absolute, or a named volume). */
  source: string;
  target: string;
  readOnly: boolean;
}

export interface Service {
  name: string;
  /** The image: `image:`, else the Dockerfile's `FROM` (build), else undefined. */
  image: string | undefined;
  /**
   * A `build:` service's Dockerfile: its path, whether the harness has it, and the instructions
   * beyond FROM/LABEL/ARG (RUN, COPY, ENV, ...), which benchline does not build.
   */
  build?: { dockerfile: string; missing: boolean; steps: string[] };
  volumes: Volume[];
  envFiles: string[];
  environment: Record<string, string>;
  /** The command as written: a string (split into words like compose) or a list of words. */
  command: string | string[] | undefined;
  /** `entrypoint:` as written: its words run first, the command's words are its arguments. */
  entrypoint: string | string[] | undefined;
  workingDir: string | undefined;
  networks: string[];
}

export type ComposeResult =
  | { ok: true; services: Service[]; networks: string[] }
  | { ok: false; error: string };

/** The services of a compose file; `files` resolves `build:` Dockerfiles. */
export function parseCompose(text: string, files: Record<string, string>): ComposeResult {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    return { ok: false, error: `docker-compose.yml: ${(e as Error).message.split("\n")[0]}` };
  }
  const parsed = composeFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `docker-compose.yml: ${issue?.path.join(".")}: ${issue?.message}` };
  }
  const services = Object.entries(parsed.data.services).map(([name, s]): Service => {
    let image = s.image;
    let build: Service["build"];
    if (image === undefined && s.build !== undefined) {
      const context = typeof s.build === "string" ? s.build : (s.build.context ?? ".");
      const dockerfile = typeof s.build === "string" ? "Dockerfile" : (s.build.dockerfile ?? "Dockerfile");
      const path = joinRelative(context, dockerfile);
      const text = files[path];
      image = /^\s*FROM\s+(\S+)/im.exec(text ?? "")?.[1];
      build = { dockerfile: path, missing: text === undefined, steps: buildSteps(text ?? "") };
    }
    return {
      name,
      image,
      ...(build ? { build } : {}),
      volumes: s.volumes.map(toVolume),
      envFiles: s.env_file === undefined ? [] : [s.env_file].flat(),
      environment: environmentOf(s.environment),
      command: s.command,
      entrypoint: s.entrypoint,
      workingDir: s.working_dir,
      networks: networkNames(s.networks),
    };
  });
  return { ok: true, services, networks: networkNames(parsed.data.networks) };
}

/**
 * An env file as docker compose reads it: `KEY=VALUE` lines, `#` comments, blank lines; spaces
 * around the key and the value are trimmed and one pair of surrounding quotes removed.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    const key = (eq < 0 ? line : line.slice(0, eq)).trim().replace(/^export\s+/, "");
    if (key === "") continue;
    let value = eq < 0 ? "" : line.slice(eq + 1).trim();
    const quoted = /^(["'])([\s\S]*)\1$/.exec(value);
    if (quoted) value = quoted[2] as string;
    else value = value.replace(/\s+#.*$/, "");
    env[key] = value;
  }
  return env;
}

/**
 * A service's command as `docker compose run` runs it, as one shell line that runs exactly those
 * words: `$VAR`, `${VAR}`, `${VAR:-default}` interpolated first (from `env`: the service's
 * environment, never the host's; `$$` is a `$`), then a string split into words shell-like
 * (quotes, backslashes) with no shell, so `;`, `&&`, `|` and globs are plain words unless the
 * command itself is `sh -c '...'`. Throws on an unterminated quote.
 */
export function commandLine(
  command: string | string[] | undefined,
  env: Record<string, string>,
  entrypoint?: string | string[],
): string {
  const wordsOf = (text: string | string[] | undefined): string[] =>
    text === undefined
      ? []
      : Array.isArray(text)
        ? text.map((w) => interpolate(w, env))
        : split(interpolate(text, env));
  return [...wordsOf(entrypoint), ...wordsOf(command)].map(quote).join(" ");
}

// ---------------------------------------------------------------- internal helpers

function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(
    /\$(?:(\$)|\{([A-Za-z_]\w*)(?:(:?-)([^}]*))?\}|([A-Za-z_]\w*))/g,
    (_, dollar, braced, op, fallback, bare) => {
      if (dollar) return "$";
      const name = (braced ?? bare) as string;
      const value = env[name];
      if (op === ":-") return value === undefined || value === "" ? (fallback as string) : value;
      if (op === "-") return value === undefined ? (fallback as string) : value;
      return value ?? "";
    },
  );
}

function toVolume(v: string | { source: string; target: string; read_only?: boolean | undefined }): Volume {
  if (typeof v !== "string") return { source: v.source, target: v.target, readOnly: v.read_only ?? false };
  const parts = v.split(":");
  const mode = parts.length >= 3 ? (parts[parts.length - 1] ?? "") : "";
  const target = parts.length >= 3 ? parts.slice(1, -1).join(":") : (parts[1] ?? parts[0] ?? "");
  return { source: parts[0] ?? "", target, readOnly: mode.split(",").includes("ro") };
}

function environmentOf(env: string[] | Record<string, unknown> | undefined): Record<string, string> {
  if (env === undefined) return {};
  if (Array.isArray(env)) return parseEnvFile(env.join("\n"));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? "" : String(v)]));
}

function networkNames(networks: unknown): string[] {
  if (Array.isArray(networks)) return networks.map(String);
  if (networks && typeof networks === "object") return Object.keys(networks);
  return [];
}

/** The Dockerfile instructions (upper-cased keywords) other than FROM, LABEL, ARG and MAINTAINER. */
function buildSteps(dockerfile: string): string[] {
  const joined = dockerfile.replace(/\\\r?\n/g, " ");
  const steps = new Set<string>();
  for (const line of joined.split(/\r?\n/)) {
    const keyword = /^\s*([A-Za-z]+)\b/.exec(line)?.[1]?.toUpperCase();
    if (keyword && !["FROM", "LABEL", "ARG", "MAINTAINER"].includes(keyword)) steps.add(keyword);
  }
  return [...steps];
}

function joinRelative(dir: string, file: string): string {
  const d = dir.replace(/^\.\/?/, "").replace(/\/+$/, "");
  return d === "" ? file : `${d}/${file}`;
}
