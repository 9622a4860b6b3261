import { spawnSync } from "node:child_process";

/** Whether Icarus Verilog, cocotb and pytest are installed where bwrap sees them (/usr). */
export function simulatorPresent(): boolean {
  const probe = spawnSync("/usr/bin/python3", ["-c", "import cocotb, pytest"], { stdio: "ignore" });
  const iverilog = spawnSync("/usr/bin/iverilog", ["-V"], { stdio: "ignore" });
  return probe.status === 0 && iverilog.status === 0;
}
