import { parseArgs, type ParseArgsConfig } from "node:util";

/** A bench script's flags; `pnpm <script> -- --flag` passes the "--" through, so it is skipped rather than refused as a positional. */
export function benchArgs<const O extends NonNullable<ParseArgsConfig["options"]>>(options: O) {
  return parseArgs<{ args: string[]; options: O }>({ args: process.argv.slice(2).filter((arg) => arg !== "--"), options }).values;
}
