import { loadConfig, workerEnv } from "@parley/config";
import { createLogger, runNode } from "@parley/observability";
import { createWorkerNode } from "./worker-node";

void runNode({
  name: "worker",
  readConfig: () => loadConfig(workerEnv),
  createLogger: (config) => createLogger({ name: "worker", level: config.LOG_LEVEL, ...(config.NODE_ID === undefined ? {} : { nodeId: config.NODE_ID }) }),
  start: async (config, logger) => {
    const node = createWorkerNode(config, { logger });
    await node.start();
    return { stop: () => node.close() };
  },
  // Running jobs get this long to finish; an interrupted one is picked up again by another worker (stalled).
  forceExitAfterMs: () => 30_000,
});
