import { spawnSync } from "node:child_process";

/**
 * CVDP-format records written for benchline's tests and examples (not NVIDIA's): small designs with
 * a cocotb harness, plain self-checking iverilog testbenches, a multi-file JSON answer, comprehension
 * problems, a commercial-simulator record and an agentic record whose patch edits a file.
 */

/** Whether Icarus Verilog, cocotb and pytest are installed where bwrap sees them (/usr). */
export function simulatorPresent(): boolean {
  const probe = spawnSync("/usr/bin/python3", ["-c", "import cocotb, pytest"], { stdio: "ignore" });
  const iverilog = spawnSync("/usr/bin/iverilog", ["-V"], { stdio: "ignore" });
  return probe.status === 0 && iverilog.status === 0;
}

const counter = `module counter4(input clk, input rst, input en, output reg [3:0] count);
  always @(posedge clk) begin
    if (rst) count <= 4'd0;
    else if (en) count <= count + 4'd1;
  end
endmodule
`;

const cocotbTest = `import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge


@cocotb.test()
async def test_counts(dut):
    print("COCOTB_RANDOM_SEED=" + os.environ.get("COCOTB_RANDOM_SEED", "unset"))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.en.value = 0
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    expected = 0
    for _ in range(40):
        en = random.randint(0, 1)
        dut.en.value = en
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        if en:
            expected = (expected + 1) % 16
        assert int(dut.count.value) == expected, f"count {int(dut.count.value)} != {expected}"
`;

const cocotbRunner = `import os

from cocotb_tools.runner import get_runner


def test_runner():
    runner = get_runner(os.getenv("SIM", "icarus"))
    runner.build(sources=os.getenv("VERILOG_SOURCES").split(), hdl_toplevel=os.getenv("TOPLEVEL"), always=True, timescale=("1ns", "1ps"))
    runner.test(hdl_toplevel=os.getenv("TOPLEVEL"), test_module=os.getenv("MODULE"))
`;

const cocotbCompose = `services:

  direct:
    image: __OSS_SIM_IMAGE__
    volumes:
      - ./src/:/src/:ro
    env_file    : ./src/.env
    command     : pytest -s -o cache_dir=/code/rundir/.cache /src/test_runner.py -v
`;

/** A compose file running one shell script of the harness (a plain iverilog testbench). */
const iverilogCompose = (script: string) => `services:
  sim:
    build: .
    volumes:
      - ./src/:/src/:ro
    env_file: ./src/.env
    command: ["sh", "/src/${script}"]
`;

const mux = `module mux4(input [1:0] sel, input [7:0] a, input [7:0] b, input [7:0] c, input [7:0] d, output reg [7:0] y);
  always @(*) begin
    case (sel)
      2'd0: y = a;
      2'd1: y = b;
      2'd2: y = c;
      default: y = d;
    endcase
  end
endmodule
`;

const muxTb = `module tb;
  reg [1:0] sel;
  reg [7:0] a, b, c, d;
  wire [7:0] y;
  integer errors = 0, i;
  mux4 dut(.sel(sel), .a(a), .b(b), .c(c), .d(d), .y(y));
  initial begin
    a = 8'h11; b = 8'h22; c = 8'h33; d = 8'h44;
    for (i = 0; i < 4; i = i + 1) begin
      sel = i;
      #1;
      if (y !== 8'h11 * (i + 1)) begin
        errors = errors + 1;
        $display("FAIL sel=%0d y=%h", i, y);
      end
    end
    if (errors == 0) $display("ALL TESTS PASSED");
    $finish;
  end
endmodule
`;

const simScript = (sources: string, top: string) => `set -e
iverilog -g2012 -s ${top} -o /code/rundir/sim.vvp /src/tb.sv ${sources}
vvp -n /code/rundir/sim.vvp | tee /code/rundir/sim.log
grep -q "ALL TESTS PASSED" /code/rundir/sim.log
# a path the record does not expect must never be written
test ! -e /code/rtl/extra.sv
test ! -e /code/rundir/conftest.py
`;

const halfAdder = `module half_adder(input a, input b, output s, output c);
  assign s = a ^ b;
  assign c = a & b;
endmodule
`;
const fullAdder = `module full_adder(input a, input b, input cin, output s, output cout);
  wire s1, c1, c2;
  half_adder h1(.a(a), .b(b), .s(s1), .c(c1));
  half_adder h2(.a(s1), .b(cin), .s(s), .c(c2));
  assign cout = c1 | c2;
endmodule
`;
const adderTb = `module tb;
  reg a, b, cin;
  wire s, cout;
  integer i, errors = 0;
  full_adder dut(.a(a), .b(b), .cin(cin), .s(s), .cout(cout));
  initial begin
    for (i = 0; i < 8; i = i + 1) begin
      {a, b, cin} = i[2:0];
      #1;
      if ({cout, s} !== a + b + cin) begin
        errors = errors + 1;
        $display("FAIL %b%b%b -> %b%b", a, b, cin, cout, s);
      end
    end
    if (errors == 0) $display("ALL TESTS PASSED");
    $finish;
  end
endmodule
`;

const andTb = `module tb;
  reg a, b;
  wire y;
  integer i, errors = 0;
  and2 dut(.a(a), .b(b), .y(y));
  initial begin
    for (i = 0; i < 4; i = i + 1) begin
      {a, b} = i[1:0];
      #1;
      if (y !== (a & b)) errors = errors + 1;
    end
    if (errors == 0) $display("ALL TESTS PASSED");
    $finish;
  end
endmodule
`;

export const records = {
  counter: {
    id: "cvdp_copilot_counter_0001",
    categories: ["cid003", "easy"],
    input: {
      prompt:
        "Design `counter4`, a 4-bit up counter with a synchronous active-high reset `rst` and a count enable `en`, clocked on the rising edge of `clk`; output `count [3:0]` wraps from 15 to 0.",
      context: {},
    },
    output: { response: "", context: { "rtl/counter4.sv": counter } },
    harness: {
      files: {
        "docker-compose.yml": cocotbCompose,
        "src/.env":
          "SIM             = icarus\nTOPLEVEL_LANG   = verilog\nVERILOG_SOURCES = /code/rtl/counter4.sv\nTOPLEVEL        = counter4\nMODULE          = test_counter\nPYTHONPATH      = /src\n",
        "src/test_counter.py": cocotbTest,
        "src/test_runner.py": cocotbRunner,
      },
    },
  },
  mux: {
    id: "cvdp_copilot_mux_0002",
    categories: ["cid002", "medium"],
    input: {
      prompt: "Complete the case statement of `mux4` so that `sel` selects `a`, `b`, `c` or `d`.",
      context: {
        "rtl/mux4.sv":
          "module mux4(input [1:0] sel, input [7:0] a, input [7:0] b, input [7:0] c, input [7:0] d, output reg [7:0] y);\n  // TODO\nendmodule\n",
      },
    },
    output: { response: "", context: { "rtl/mux4.sv": mux } },
    harness: {
      files: {
        Dockerfile: "FROM __OSS_SIM_IMAGE__\n",
        "docker-compose.yml": iverilogCompose("run.sh"),
        "src/.env": "TOP = tb\n",
        "src/tb.sv": muxTb,
        "src/run.sh": simScript("/code/rtl/mux4.sv", "$TOP"),
      },
    },
  },
  adder: {
    id: "cvdp_copilot_adder_0003",
    categories: ["cid004", "hard"],
    input: {
      prompt:
        "Fix the carry of `full_adder`: it must be the OR of both half adders' carries, and `half_adder` must compute a proper carry.",
      context: {
        "rtl/half_adder.sv": halfAdder.replace("a & b", "a | b"),
        "rtl/full_adder.sv": fullAdder.replace("c1 | c2", "c1 & c2"),
      },
    },
    output: { response: "", context: { "rtl/half_adder.sv": halfAdder, "rtl/full_adder.sv": fullAdder } },
    harness: {
      files: {
        Dockerfile: "FROM __OSS_SIM_IMAGE__\n",
        "docker-compose.yml": iverilogCompose("run.sh"),
        "src/.env": "TOP=tb\n",
        "src/tb.sv": adderTb,
        "src/run.sh": simScript("/code/rtl/half_adder.sv /code/rtl/full_adder.sv", "$TOP"),
      },
    },
  },
  correspondence: {
    id: "cvdp_copilot_tb_map_0004",
    categories: ["cid008", "easy"],
    input: {
      prompt: "Quote the line of the test plan that the loop over `sel` in the testbench implements.",
      context: {
        "docs/plan.md": "The testbench applies every value of sel and compares y with the selected input.\n",
      },
    },
    output: {
      response: "The testbench applies every value of sel and compares y with the selected input.",
      context: {},
    },
    harness: {},
  },
  question: {
    id: "cvdp_copilot_mux_qa_0005",
    categories: ["cid009", "easy"],
    input: {
      prompt: "Why does `mux4` use a blocking assignment in its always block?",
      context: { "rtl/mux4.sv": mux },
    },
    output: {
      response: "It is combinational logic: blocking assignments model it without latches or races.",
      context: {},
    },
    harness: {},
  },
  commercial: {
    id: "cvdp_copilot_mux_cov_0006",
    categories: ["cid012", "easy"],
    input: {
      prompt: "Write a stimulus testbench for `mux4` reaching full coverage.",
      context: { "rtl/mux4.sv": mux },
    },
    output: { response: "", context: { "verif/mux4_tb.sv": muxTb } },
    harness: {
      files: {
        "docker-compose.yml":
          "services:\n  xrun:\n    image: __VERIF_EDA_IMAGE__\n    volumes:\n      - ./src/:/src/:ro\n    env_file: ./src/.env\n    command: pytest /src/process.py -v\n    networks:\n      - licnetwork\nnetworks:\n  licnetwork:\n    external: true\n",
        "src/.env": "TARGET = 90\n",
        "src/process.py": "def test_coverage():\n    assert False\n",
      },
    },
  },
  agentic: {
    id: "cvdp_agentic_and_gate_0007",
    categories: ["cid016", "easy"],
    system_message: "You are a language model with file operations.",
    prompt: "The `and2` module in rtl/and2.sv computes OR instead of AND. Fix it.",
    context: { "rtl/and2.sv": "module and2(input a, input b, output y);\n  assign y = a | b;\nendmodule\n" },
    patch: {
      "rtl/and2.sv":
        "@@ -1,3 +1,3 @@\n module and2(input a, input b, output y);\n-  assign y = a | b;\n+  assign y = a & b;\n endmodule\n",
    },
    harness: {
      "docker-compose.yml":
        "services:\n  sim:\n    image: __OSS_SIM_IMAGE__\n    volumes:\n      - ./src/:/src/:ro\n    env_file: ./src/.env\n    command: sh /src/run.sh\n",
      "src/.env": "TOP=tb\n",
      "src/tb.sv": andTb,
      "src/run.sh": simScript("/code/rtl/and2.sv", "$TOP"),
    },
  },
};

/** Wrong answers for the counter (cid003): they compile or not, but never pass. */
export const counterAnswers = {
  golden: counter,
  fenced: `Here is the design.\n\n\`\`\`systemverilog\n${counter}\`\`\`\n\nIt resets synchronously.`,
  countsByTwo: counter.replace("count + 4'd1", "count + 4'd2"),
  syntaxError: counter.replace("count <= 4'd0;", "count <= 4'd0"),
  wrongModule: counter.replace("module counter4", "module counter"),
};

export const dataset = () => Object.values(records);
