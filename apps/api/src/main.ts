import { apiEnv, loadConfig } from "@parley/config";
import { createLogger, runNode } from "@parley/observability";
import { createApiNode } from "./api-node";

void runNode({
  name: "api",
  readConfig: () => loadConfig(apiEnv),
  createLogger: (config) => createLogger({ name: "api", level: config.LOG_LEVEL, ...(config.NODE_ID === undefined ? {} : { nodeId: config.NODE_ID }) }),
  start: async (config, logger) => {
    const node = await createApiNode({ config, logger });
    const opsPort = await node.listenOps();
    const port = await node.listen();
    logger.info({ port, ops_port: opsPort, node: node.nodeId, policy: config.PARLEY_POLICY }, "api listening");
    return { stop: () => node.close() };
  },
  forceExitAfterMs: () => 20_000,
});
