export { createLogger, logSerializers, redactUrlTokens, REDACTED_PATHS, type Logger, type LoggerOptions } from "./logger";
export { createMetrics, httpRequestDuration, HTTP_REQUEST_DURATION, type Metrics, type MetricsOptions } from "./metrics";
export {
  createOpsHandler,
  postgresCheck,
  redisCheck,
  startOpsServer,
  type OpsHandler,
  type OpsHandlerOptions,
  type OpsServer,
  type OpsServerOptions,
  type ReadinessCheck,
} from "./ops-server";
export { listenOn } from "./http-listen";
export { closeAll, isConnectionLoss, logConnectionErrors, runNode, type CloseStep, type ErrorEmitter, type NodeHandle, type RunNodeOptions, type ServingNode } from "./lifecycle";
