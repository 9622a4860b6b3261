import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerCall, dockerJson } from "../src/sandbox/docker-api.js";

/** The code-edit test image (test/code-edit-docker.test.ts, bench/code-edit-docker.ts). */

const python = "/usr/lib/python3.11";

/** The host has what the image is built from. */
export function canBuildCodeEditImage(): boolean {
  return ["/bin/busybox", python, "/usr/bin/patch", "/usr/bin/dash", "/usr/bin/git"].every((p) =>
    existsSync(p),
  );
}

/**
 * A rootfs without a registry: busybox (hard links, so the archive holds one copy), the host's
 * Python 3.11 with pytest, git and GNU patch with the libraries they load, and the repository at
 * /testbed; imported once and tagged per instance.
 */
export async function importCodeEditImage(socketPath: string, repoDir: string): Promise<string> {
  const stage = mkdtempSync(join(tmpdir(), "ce-docker-rootfs-"));
  try {
    mkdirSync(join(stage, "bin"));
    linkSync("/bin/busybox", join(stage, "bin", "busybox"));
    const applets = execFileSync("/bin/busybox", ["--list"], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
    // sh is the host's dash: busybox's sh runs its own applets first (its patch lacks --batch).
    for (const name of applets)
      if (name !== "busybox" && name !== "sh")
        linkSync(join(stage, "bin", "busybox"), join(stage, "bin", name));
    copyFileSync("/usr/bin/dash", join(stage, "bin", "sh"));
    chmodSync(join(stage, "bin", "sh"), 0o755);
    mkdirSync(join(stage, "etc"));
    writeFileSync(
      join(stage, "etc", "passwd"),
      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
    );
    writeFileSync(join(stage, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
    mkdirSync(join(stage, "tmp"), { mode: 0o1777 });
    mkdirSync(join(stage, "root"));
    execFileSync("cp", ["-a", repoDir, join(stage, "testbed")]);
    const binaries = ["/usr/bin/python3.11", "/usr/bin/git", "/usr/bin/patch", "/usr/bin/dash"];
    const dynload = readdirSync(join(python, "lib-dynload")).map((f) => join(python, "lib-dynload", f));
    const libs = new Set<string>();
    for (const file of [...binaries, ...dynload]) {
      const out = execFileSync("ldd", [file], { encoding: "utf8" });
      for (const m of out.matchAll(/=> (\/\S+)/g)) libs.add(m[1] as string);
    }
    const dist = "/usr/lib/python3/dist-packages";
    const packages = [
      "_pytest",
      "pytest",
      "pluggy",
      "iniconfig",
      "py",
      "py.py",
      "attr",
      "packaging",
      "_distutils_hack",
    ]
      .map((p) => join(dist, p))
      .filter(existsSync);
    // Host files copied in dereferenced (the loader finds /lib/x86_64-linux-gnu/<soname>); the
    // archive itself keeps symlinks (the repository's own link must stay a link).
    const host = [
      ...binaries,
      "/usr/bin/python3",
      python,
      ...packages,
      ...libs,
      "/lib64/ld-linux-x86-64.so.2",
    ];
    execFileSync("cp", ["-rL", "--parents", ...host, stage]);
    const tar = execFileSync(
      "tar",
      [
        "-c",
        "--exclude=__pycache__",
        ...["test", "idlelib", "tkinter", "ensurepip"].map((d) => `--exclude=.${python}/${d}`),
        "-C",
        stage,
        ".",
      ],
      { maxBuffer: 1 << 30 },
    );
    const tag = "benchline-test/code-edit-py:latest";
    const [name, version] = tag.split(":");
    await dockerJson<unknown>(
      { socketPath },
      {
        method: "POST",
        // As SWE-bench images do, the image sets PATH (else busybox sh's default puts /bin first).
        path: `/images/create?fromSrc=-&repo=${name}&tag=${version}&changes=${encodeURIComponent("ENV PATH=/usr/local/bin:/usr/bin:/bin")}`,
        body: tar,
      },
    );
    return tag;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

export async function tagImage(socketPath: string, image: string, name: string): Promise<void> {
  await dockerCall(
    { socketPath },
    {
      method: "POST",
      path: `/images/${encodeURIComponent(image)}/tag?repo=${encodeURIComponent(name)}&tag=latest`,
    },
  );
}
