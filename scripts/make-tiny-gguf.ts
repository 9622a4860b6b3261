/**
 * Writes the tiny deterministic test model (see src/providers/test-utils/tiny-gguf.ts).
 * Usage: npx tsx scripts/make-tiny-gguf.ts out.gguf [--margin 8] [--context 256]
 */
import { parseArgs } from "node:util";
import { writeTinyGguf } from "../src/providers/test-utils/tiny-gguf.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { margin: { type: "string" }, context: { type: "string" } },
});
const [out] = positionals;
if (out === undefined || positionals.length > 1) {
  console.error("usage: make-tiny-gguf <out.gguf> [--margin <logit>] [--context <tokens>]");
  process.exit(2);
}
await writeTinyGguf(out, {
  ...(values.margin !== undefined && { margin: Number(values.margin) }),
  ...(values.context !== undefined && { contextLength: Number(values.context) }),
});
console.log(out);
