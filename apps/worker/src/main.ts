import { ConfigError, loadConfig, workerEnv } from "@parley/config";
import { createLogger } from "@parley/observability";
import { createWorkerNode } from "./worker-node";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(workerEnv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ name: "worker", level: config.LOG_LEVEL, ...(config.NODE_ID === undefined ? {} : { nodeId: config.NODE_ID }) });
  const node = createWorkerNode(config, { logger });
  await node.start();

  const shutdown = (signal: string) => {
    logger.info({ signal }, "shutting down");
    // Running jobs get this long to finish; an interrupted one is picked up again by another worker (stalled).
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    void node.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`worker failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
