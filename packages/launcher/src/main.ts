import { fileURLToPath } from "node:url";
import { ConfigError } from "@parley/config";
import { startCluster, type Cluster } from "./launcher";
import { createOutput } from "./output";
import { ServiceError } from "./services/service";

const rootDir = fileURLToPath(new URL("../../..", import.meta.url));
const tty = process.stdout.isTTY;
const output = createOutput({
  stdout: process.stdout,
  stderr: process.stderr,
  color: tty && process.env.NO_COLOR === undefined,
  pretty: tty,
});
output.register("parley");

const starting = new AbortController();
let cluster: Cluster | undefined;
let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  signals += 1;
  if (signals > 1) {
    // A second Ctrl-C means "now": the exit hook SIGKILLs every child.
    output.line("parley", `${signal} again: killing everything`, "stderr");
    process.exit(130);
  }
  output.line("parley", `${signal} received: shutting down`);
  if (cluster) void cluster.stop();
  else starting.abort(new Error(`${signal} received while starting`));
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
process.on("SIGHUP", onSignal); // a closed terminal: the apps in their own process groups would not hear it

try {
  cluster = await startCluster({ env: process.env, rootDir, log: output, signal: starting.signal });
} catch (error) {
  if (starting.signal.aborted) {
    output.line("parley", "stopped while starting");
    process.exit(0);
  }
  const known = error instanceof ConfigError || error instanceof ServiceError;
  const text = error instanceof Error ? (known ? error.message : (error.stack ?? error.message)) : String(error);
  for (const line of `cannot start: ${text}`.split("\n")) output.line("parley", line, "stderr");
  process.exit(1);
}
if (starting.signal.aborted) void cluster.stop();
process.exit(await cluster.stopped);
