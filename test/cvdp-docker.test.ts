import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerJson } from "../src/sandbox/docker-api.js";
import type { TarEntry } from "../src/sandbox/tar.js";
import { writeTar } from "../src/sandbox/tar.js";
import { startTestDockerd, type TestDocker } from "../src/sandbox/test-utils/dockerd.js";
import { records } from "./cvdp-fixtures.js";
import { runCli, testdir } from "./helpers.js";

/**
 * The cvdp harness through the docker backend: a private dockerd (started here) and an image built
 * here with no registry: the host's static busybox plus Icarus Verilog and the libraries it loads.
 */
const image = "benchline-test/iverilog:latest";
const ivl = "/usr/lib/x86_64-linux-gnu/ivl";
const present = existsSync("/usr/bin/iverilog") && existsSync(ivl) && existsSync("/bin/busybox");
if (!present) console.warn("skipping cvdp docker test: needs iverilog and busybox-static on the host");

let docker: TestDocker | undefined;
let skip = "";
beforeAll(async () => {
  if (!present) return;
  const started = await startTestDockerd();
  if (!started.ok) {
    skip = started.reason;
    console.warn(`skipping cvdp docker test: ${skip}`);
    return;
  }
  docker = started.docker;
  await importIverilogImage(docker.socketPath);
}, 120_000);
afterAll(async () => {
  await docker?.stop();
});

describe.skipIf(!present)("cvdp harness in docker", () => {
  it("the compose service runs in a fresh container: golden passes, a wrong design fails, output on the row", (ctx) => {
    if (!docker) return ctx.skip();
    const wrong = records.mux.output.context["rtl/mux4.sv"].replace("2'd1: y = b;", "2'd1: y = a;");
    const dir = testdir({
      "exp.yaml": `name: hwd\ntask: {name: cvdp, seed: 9, images: {__OSS_SIM_IMAGE__: "${image}"}}\ndataset: data.jsonl\nmodels: [gold]\nexecution: {sandbox: docker, image: "${image}", docker_host: "unix://${docker.socketPath}", timeout: 120, concurrency: 2}\n`,
      "data.jsonl": [records.mux],
      "responses.jsonl": [
        { id: records.mux.id, completion: records.mux.output.context["rtl/mux4.sv"] },
        { id: records.mux.id, completion: wrong },
      ],
    });
    const r = runCli(["import", "exp.yaml", "--responses", "responses.jsonl", "--samples", "2"], dir);
    expect(r.code, r.stderr).toBe(0);
    const exp = join(dir, "runs", "hwd");
    const trial = join(exp, readdirSync(exp).find((d) => d.includes("__")) as string);
    const rows = readFileSync(join(trial, "executions.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const golden = rows.find((e) => e.sample === 0);
    const bad = rows.find((e) => e.sample === 1);
    expect(golden.sandbox).toBe(`docker:${image}`);
    expect(golden.passed, JSON.stringify(golden.steps)).toBe(true);
    expect(golden.steps[0].stdout).toContain("ALL TESTS PASSED");
    expect(golden.cocotb_random_seed).toBe(9);
    expect(bad.passed).toBe(false);
    expect(bad.steps[0].stdout).toContain("FAIL sel=1");
  }, 240_000);

  /** One trial's execution rows after `benchline import` of `completions` for `record`. */
  function importRows(
    d: TestDocker,
    task: string,
    record: Record<string, unknown>,
    completions: string[],
    execution = "",
  ) {
    const dir = testdir({
      "exp.yaml": `name: hwd\ntask: ${task}\ndataset: data.jsonl\nmodels: [gold]\nexecution: {sandbox: docker, image: "${image}", docker_host: "unix://${d.socketPath}"${execution}}\n`,
      "data.jsonl": [record],
      "responses.jsonl": completions.map((completion) => ({ id: record.id, completion })),
    });
    const r = runCli(["import", "exp.yaml", "--responses", "responses.jsonl"], dir);
    const exp = join(dir, "runs", "hwd");
    const trial = join(exp, readdirSync(exp).find((e) => e.includes("__")) as string);
    const rows = readFileSync(join(trial, "executions.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const trialJson = JSON.parse(readFileSync(join(trial, "trial.json"), "utf8"));
    return { r, rows, trialJson };
  }

  it("an unmapped image placeholder is an error on the record naming the placeholder, not a failure", (ctx) => {
    if (!docker) return ctx.skip();
    const { rows } = importRows(docker, "{name: cvdp}", records.mux, [
      records.mux.output.context["rtl/mux4.sv"],
    ]);
    expect(rows[0].status).toBe("error");
    expect(rows[0].error.message).toContain("service sim uses the image placeholder __OSS_SIM_IMAGE__");
    expect(rows[0].error.message).toContain("task.images");
  }, 120_000);

  it("a placeholder mapped to an image missing on the daemon is a clear error naming that image", (ctx) => {
    if (!docker) return ctx.skip();
    const { rows } = importRows(
      docker,
      "{name: cvdp, images: {__OSS_SIM_IMAGE__: no-such/image:1}}",
      records.mux,
      [records.mux.output.context["rtl/mux4.sv"]],
    );
    expect(rows[0].status).toBe("error");
    expect(rows[0].error.message).toContain("docker image no-such/image:1 is not on the daemon");
  }, 120_000);

  it("execution.disk_mb caps what a harness writes (tmpfs work dir and /tmp): golden still passes, 3 MB into a 2 MB cap fails", (ctx) => {
    if (!docker) return ctx.skip();
    const task = `{name: cvdp, images: {__OSS_SIM_IMAGE__: "${image}"}}`;
    const golden = [records.mux.output.context["rtl/mux4.sv"]];
    const ok = importRows(docker, task, records.mux, golden, ", disk_mb: 64");
    expect(ok.rows[0].passed, JSON.stringify(ok.rows[0])).toBe(true);
    expect(JSON.stringify(ok.trialJson)).toContain('"diskMb":64');
    const record = structuredClone(records.mux) as typeof records.mux;
    record.harness.files["docker-compose.yml"] =
      "services:\n  fill:\n    image: __OSS_SIM_IMAGE__\n    command: sh -c 'df -k /code/rundir /tmp; dd if=/dev/zero of=/code/rundir/big bs=1k count=3000 && dd if=/dev/zero of=/tmp/big bs=1k count=3000'\n";
    const full = importRows(docker, task, record, golden, ", disk_mb: 2");
    expect(full.rows[0].passed).toBe(false);
    expect(full.rows[0].steps[0].stderr).toMatch(/No space left on device/);
    const small = structuredClone(record);
    small.harness.files["docker-compose.yml"] = small.harness.files["docker-compose.yml"].replaceAll(
      "3000",
      "1000",
    );
    const fits = importRows(docker, task, small, golden, ", disk_mb: 2");
    expect(fits.rows[0].passed, JSON.stringify(fits.rows[0].steps)).toBe(true);
  }, 180_000);

  it("harness containers have no network (only lo) and the 600 s CVDP timeout by default", (ctx) => {
    if (!docker) return ctx.skip();
    const record = structuredClone(records.mux) as typeof records.mux;
    record.harness.files["docker-compose.yml"] =
      "services:\n  net:\n    image: __OSS_SIM_IMAGE__\n    command: sh -c 'ls /sys/class/net; test \"$(ls /sys/class/net)\" = lo'\n";
    const task = `{name: cvdp, images: {__OSS_SIM_IMAGE__: "${image}"}}`;
    const golden = [records.mux.output.context["rtl/mux4.sv"]];
    const { rows, trialJson } = importRows(docker, task, record, golden);
    expect(rows[0].passed, JSON.stringify(rows[0])).toBe(true);
    expect(rows[0].steps[0].stdout.trim()).toBe("lo");
    expect(JSON.stringify(trialJson)).toContain('"timeout_ms":600000');
    // execution.timeout overrides CVDP's default.
    const overridden = importRows(docker, task, record, golden, ", timeout: 42");
    expect(JSON.stringify(overridden.trialJson)).toContain('"timeout_ms":42000');
    expect(JSON.stringify(overridden.trialJson)).not.toContain("600000");
  }, 120_000);
});

async function importIverilogImage(socketPath: string): Promise<void> {
  const busybox = "/bin/busybox";
  const applets = execFileSync(busybox, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
  const entries: TarEntry[] = [
    { path: "bin", type: "directory" },
    { path: "bin/busybox", type: "file", content: readFileSync(busybox), mode: 0o755 },
    ...applets
      .filter((name) => name !== "busybox")
      .map((name): TarEntry => ({ path: `bin/${name}`, type: "symlink", linkTarget: "busybox" })),
    { path: "etc", type: "directory" },
    {
      path: "etc/passwd",
      type: "file",
      content: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
    },
    { path: "etc/group", type: "file", content: "root:x:0:\nnogroup:x:65534:\n" },
    { path: "tmp", type: "directory", mode: 0o1777 },
  ];
  const dirs = new Set(["bin", "etc", "tmp"]);
  const addFile = (hostPath: string, mode = 0o755) => {
    const rel = hostPath.replace(/^\/+/, "");
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d)) entries.push({ path: d, type: "directory" });
      dirs.add(d);
    }
    entries.push({ path: rel, type: "file", content: readFileSync(realpathSync(hostPath)), mode });
  };
  const programs = readdirSync(ivl).filter((f) => !f.endsWith(".conf") && statSync(join(ivl, f)).isFile());
  const binaries = ["/usr/bin/iverilog", "/usr/bin/vvp", ...programs.map((f) => `${ivl}/${f}`)];
  for (const file of binaries) addFile(file);
  for (const f of readdirSync(ivl)) if (f.endsWith(".conf")) addFile(`${ivl}/${f}`, 0o644);
  for (const f of readdirSync(join(ivl, "include"))) addFile(`${ivl}/include/${f}`, 0o644);
  const libs = new Set<string>();
  for (const file of binaries) {
    const out = execFileSync("ldd", [file], { encoding: "utf8" });
    for (const m of out.matchAll(/=> (\/\S+)|^\s*(\/\S+ld-linux\S*)/gm)) libs.add((m[1] ?? m[2]) as string);
  }
  for (const lib of libs) addFile(lib, 0o755);
  const [repo, tag] = image.split(":");
  await dockerJson<unknown>(
    { socketPath },
    { method: "POST", path: `/images/create?fromSrc=-&repo=${repo}&tag=${tag}`, body: writeTar(entries) },
  );
}
