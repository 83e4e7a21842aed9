export { parseDuration } from "./duration";
export { duration, integer, url } from "./fields";
export { ConfigError, loadConfig, redactConfig, redactUrl } from "./load-config";
export {
  apiEnv,
  commonEnv,
  databaseEnv,
  edgeEnv,
  jwtEnv,
  notifyContentFor,
  workerEnv,
  type ApiConfig,
  type CommonConfig,
  type EdgeConfig,
  type JwtConfig,
  type WorkerConfig,
} from "./schemas";
export { clientAddressResolver, type TrustProxySetting } from "./client-address";
export { systemClock, type Clock, type ClockTimer } from "./clock";
