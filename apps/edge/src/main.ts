import { edgeEnv, loadConfig } from "@parley/config";
import { createLogger, runNode } from "@parley/observability";
import { createEdgeNode } from "./server";

void runNode({
  name: "edge",
  readConfig: () => loadConfig(edgeEnv),
  createLogger: (config) => createLogger({ name: "edge", level: config.LOG_LEVEL, ...(config.NODE_ID === undefined ? {} : { nodeId: config.NODE_ID }) }),
  start: async (config, logger) => {
    if (config.ALLOWED_ORIGINS.length === 0 && config.NODE_ENV === "production") {
      logger.warn("ALLOWED_ORIGINS is empty: browsers from any origin may connect");
    }
    const node = await createEdgeNode(config, { logger });
    const opsPort = await node.listenOps();
    const port = await node.listen();
    logger.info({ port, ops_port: opsPort, node: node.nodeId, api: config.API_URL }, "edge listening");
    // SIGTERM (a deploy) drains gracefully; SIGINT (Ctrl-C) closes at once.
    return { stop: (signal) => (signal === "SIGTERM" ? node.drain() : node.close()) };
  },
  forceExitAfterMs: (config) => config.DRAIN_SPREAD_MS + 20_000,
});
