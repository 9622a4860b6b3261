import { main } from "./main.js";
import { setV8Flags } from "./v8-flags.js";

setV8Flags();

process.exitCode = await main(process.argv);
