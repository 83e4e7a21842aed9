import { ConfigError, apiEnv, loadConfig } from "@parley/config";
import { createLogger } from "@parley/observability";
import { createApiNode } from "./api-node";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(apiEnv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ name: "api", level: config.LOG_LEVEL, ...(config.NODE_ID === undefined ? {} : { nodeId: config.NODE_ID }) });
  const node = await createApiNode({ config, logger });
  const port = await node.listen();
  logger.info({ port, node: node.nodeId, policy: config.PARLEY_POLICY }, "api listening");

  const shutdown = (signal: string) => {
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    void node.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`api failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
