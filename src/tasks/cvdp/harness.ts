import {
  BenchlineError,
  type ExecuteContext,
  type ExecutionOutcome,
  type SandboxBind,
  type SandboxStep,
  type StepResult,
} from "../../core/index.js";
import { commandLine, parseCompose, parseEnvFile, type Service } from "./compose.js";
import type { CvdpArtifact } from "./extract.js";
import { commercialCategories, type Problem } from "./records.js";

/**
 * Runs a CVDP harness as CVDP does, in the sandbox the experiment configures: the work dir holds the
 * record's context files, the answer's files and the harness files; its `docs rundir rtl verif src`
 * appear at `/code/<dir>`, each service's relative volumes where the compose file puts them (`src` at
 * `/src`, read-only), the env files and `environment` as the environment, `HOME=/code/rundir`, and
 * the command runs in `/code/rundir`. The problem passes when every service exits 0.
 */

export interface HarnessOptions {
  /**
   * Image placeholders (`__OSS_SIM_IMAGE__`, `__VERIF_EDA_IMAGE__`, ...) → images the user names.
   * The docker sandbox runs each service in its mapped image; `__VERIF_EDA_IMAGE__` mapped also
   * means commercial records run instead of being skipped (on bwrap, with the host's tools).
   */
  images: Record<string, string>;
  /** COCOTB_RANDOM_SEED for every harness (recorded on the execution row). */
  seed: number;
}

const codeDirs = ["docs", "rundir", "rtl", "verif", "src"];
const commercialImage = "__VERIF_EDA_IMAGE__";
/** How CVDP writes an image the user supplies: `__NAME__`. */
export const imagePlaceholder = /^__[A-Z0-9_]+__$/;

/** Why a problem cannot run here (a commercial simulator, no harness), or undefined. */
export function skipReason(
  problem: Problem,
  services: Service[],
  networks: string[],
  options: HarnessOptions,
): string | undefined {
  const commercial =
    options.images[commercialImage] === undefined ? commercialReason(problem, services, networks) : undefined;
  if (commercial) return commercial;
  for (const s of services) {
    if (s.build?.missing)
      return `${problem.id}: service ${s.name} builds from ${s.build.dockerfile}, which is not in the harness`;
    if (s.build && s.build.steps.length > 0)
      return `${problem.id}: service ${s.name}'s ${s.build.dockerfile} has ${s.build.steps.join(", ")} steps, which benchline does not build (no registry access); skipped rather than run in the bare FROM image`;
  }
  return undefined;
}

function commercialReason(problem: Problem, services: Service[], networks: string[]): string | undefined {
  const usesCommercial = services.some((s) => s.image === commercialImage);
  if (usesCommercial)
    return `needs a commercial simulator (${commercialImage}); map it with task.images to run it`;
  if (networks.includes("licnetwork") || services.some((s) => s.networks.includes("licnetwork")))
    return "needs the EDA license network (licnetwork)";
  if (commercialCategories.includes(problem.cid))
    return `category cid${String(problem.cid).padStart(3, "0")} needs a commercial simulator; map ${commercialImage} with task.images to run it`;
  return undefined;
}

export async function runHarness(
  problem: Problem,
  artifact: CvdpArtifact,
  ctx: ExecuteContext<HarnessOptions>,
): Promise<ExecutionOutcome> {
  const start_time = new Date().toISOString();
  const seed = ctx.options.seed;
  const done = (passed: boolean, extras: Record<string, unknown>, steps: ExecutionOutcome["steps"] = []) => ({
    steps,
    passed,
    extras: { cocotb_random_seed: seed, ...extras, start_time, end_time: new Date().toISOString() },
  });
  const composeText = problem.harness["docker-compose.yml"];
  if (composeText === undefined)
    return done(false, { skipped: "the record has no harness (docker-compose.yml)" });
  const compose = parseCompose(composeText, problem.harness);
  if (!compose.ok) return done(false, { failure_reason: compose.error });
  const skipped = skipReason(problem, compose.services, compose.networks, ctx.options);
  if (skipped) return done(false, { skipped });
  const ignored = artifact.ignored.length > 0 ? { ignored_paths: artifact.ignored } : {};
  if (Object.keys(artifact.files).length === 0)
    return done(false, { failure_reason: artifact.error ?? "no expected file in the answer", ...ignored });

  const docker = ctx.sandbox.name.startsWith("docker:");
  if (!docker) {
    const unused = Object.keys(ctx.options.images).filter((k) => k !== commercialImage);
    if (unused.length > 0)
      throw new BenchlineError(
        "config",
        `task.images.${unused[0]}: only the docker sandbox runs services in images (${ctx.sandbox.name} runs the host's tools); use execution.sandbox: docker or remove it`,
      );
  }
  const binds: SandboxBind[] = codeDirs.map((d) => ({ source: d, target: `/code/${d}` }));
  const steps: SandboxStep[] = [];
  /** Per step, the image its service runs in (docker only; undefined: execution.image). */
  const images: Array<string | undefined> = [];
  for (const service of compose.services) {
    if (docker) images.push(serviceImage(problem, service, ctx.options.images));
    const env: Record<string, string> = {};
    for (const file of service.envFiles) {
      const text = problem.harness[file.replace(/^\.\//, "")];
      if (text === undefined)
        return done(false, {
          failure_reason: `service ${service.name}: env_file ${file} is not in the harness`,
        });
      Object.assign(env, parseEnvFile(text));
    }
    Object.assign(env, service.environment, { HOME: "/code/rundir", COCOTB_RANDOM_SEED: String(seed) });
    for (const volume of service.volumes) {
      if (volume.target.includes("/code")) continue; // CVDP drops these: /code is the work dir's
      const source = volume.source.replace(/^\.\//, "").replace(/\/+$/, "");
      if (source === "" || source.startsWith("/") || source.split("/").includes(".."))
        return done(false, {
          skipped: `service ${service.name}: volume ${volume.source} is outside the harness`,
        });
      const target = volume.target.replace(/\/+$/, "");
      if (!binds.some((b) => b.target === target))
        binds.push({ source, target, ...(volume.readOnly ? { readOnly: true } : {}) });
    }
    if (!service.command && !service.entrypoint)
      return done(false, { failure_reason: `service ${service.name} has no command` });
    const exports = Object.entries(env)
      .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
      .join("; ");
    let command: string;
    try {
      command = commandLine(service.command, env, service.entrypoint);
      if (command === "") throw new Error("no words");
    } catch (error) {
      return done(false, {
        failure_reason: `service ${service.name}: command: ${(error as Error).message}`,
      });
    }
    steps.push({ name: service.name, command: `(${exports}; cd /code/rundir && exec ${command})` });
  }
  // The harness's files win over the answer's: a model never replaces what judges it.
  const files = { ...problem.context, ...artifact.files, ...problem.harness };
  const run = (batch: SandboxStep[], image: string | undefined) =>
    ctx.sandbox.run(batch, {
      files,
      binds,
      timeoutMs: ctx.timeoutMs,
      ...(image === undefined ? {} : { image }),
      ...(ctx.limits ? { limits: ctx.limits } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  // One container for all services when they share an image (they then share the work dir, as
  // CVDP's services share the host directory); otherwise one fresh container per service.
  const results: StepResult[] = [];
  if (new Set(images).size <= 1) results.push(...(await run(steps, images[0])).steps);
  else for (const [i, step] of steps.entries()) results.push(...(await run([step], images[i])).steps);
  const result = { steps: results };
  const failed = result.steps.find((s) => s.exit_code !== 0 || s.timed_out);
  const passed = !failed && result.steps.length === steps.length;
  return done(
    passed,
    {
      files_written: Object.keys(artifact.files),
      ...ignored,
      ...(passed
        ? {}
        : {
            failure_reason: failed?.timed_out
              ? `service ${failed.name} timed out`
              : `service ${failed?.name ?? "?"} failed (exit ${failed?.exit_code ?? "none"})`,
          }),
    },
    result.steps,
  );
}

/**
 * The image a service runs in on the docker backend: a placeholder maps through `task.images` (an
 * unmapped one is an error naming it), a real image name is used as written, and a service with
 * neither (a `build:` without FROM) runs in `execution.image`.
 */
function serviceImage(
  problem: Problem,
  service: Service,
  images: Record<string, string>,
): string | undefined {
  const image = service.image;
  if (image === undefined || !imagePlaceholder.test(image)) return image;
  const mapped = images[image];
  if (mapped === undefined)
    throw new BenchlineError(
      "config",
      `${problem.id}: service ${service.name} uses the image placeholder ${image}; map it to an image with task.images: {${image}: <image>}`,
    );
  return mapped;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
