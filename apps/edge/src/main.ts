import { ConfigError, edgeEnv, loadConfig, type EdgeConfig } from "@parley/config";
import { createLogger } from "@parley/observability";
import { createEdgeNode } from "./server";

function readConfig(): EdgeConfig {
  try {
    return loadConfig(edgeEnv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger({ name: "edge", level: config.LOG_LEVEL, ...(config.NODE_ID === undefined ? {} : { nodeId: config.NODE_ID }) });
  if (config.ALLOWED_ORIGINS.length === 0 && config.NODE_ENV === "production") {
    logger.warn("ALLOWED_ORIGINS is empty: browsers from any origin may connect");
  }
  const node = await createEdgeNode(config, { logger });
  const port = await node.listen();
  logger.info({ port, node: node.nodeId, api: config.API_URL }, "edge listening");

  let stopping = false;
  const stop = (signal: NodeJS.Signals, work: () => Promise<void>) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), config.DRAIN_SPREAD_MS + 20_000);
    force.unref();
    void work().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  // SIGTERM (a deploy) drains gracefully; SIGINT (Ctrl-C) closes at once.
  process.once("SIGTERM", () => stop("SIGTERM", () => node.drain()));
  process.once("SIGINT", () => stop("SIGINT", () => node.close()));
}

main().catch((error: unknown) => {
  process.stderr.write(`edge failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
