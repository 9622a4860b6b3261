import type { ExecuteContext, ExecutionOutcome, SandboxBind, SandboxStep } from "../../core/index.js";
import { parseCompose, parseEnvFile, type Service } from "./compose.js";
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
  /** `__VERIF_EDA_IMAGE__` → an image the user provides: commercial records run. */
  images: { __VERIF_EDA_IMAGE__?: string | undefined };
  /** COCOTB_RANDOM_SEED for every harness (recorded on the execution row). */
  seed: number;
}

const codeDirs = ["docs", "rundir", "rtl", "verif", "src"];
const commercialImage = "__VERIF_EDA_IMAGE__";

/** Why a problem cannot run here (a commercial simulator, no harness), or undefined. */
export function skipReason(
  problem: Problem,
  services: Service[],
  networks: string[],
  options: HarnessOptions,
): string | undefined {
  if (options.images[commercialImage] !== undefined) return undefined;
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

  const binds: SandboxBind[] = codeDirs.map((d) => ({ source: d, target: `/code/${d}` }));
  const steps: SandboxStep[] = [];
  for (const service of compose.services) {
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
    if (!service.command) return done(false, { failure_reason: `service ${service.name} has no command` });
    const exports = Object.entries(env)
      .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
      .join("; ");
    steps.push({ name: service.name, command: `(${exports}; cd /code/rundir && ${service.command})` });
  }
  // The harness's files win over the answer's: a model never replaces what judges it.
  const files = { ...problem.context, ...artifact.files, ...problem.harness };
  const result = await ctx.sandbox.run(steps, {
    files,
    binds,
    timeoutMs: ctx.timeoutMs,
    ...(ctx.limits ? { limits: ctx.limits } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
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

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
