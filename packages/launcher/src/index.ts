export { startCluster, type Cluster, type ClusterUrls, type StartOptions } from "./launcher";
export { createOutput, memoryOutput, prettyLogLine, type Output, type OutputOptions } from "./output";
export { SmtpCatcher, type CaughtMessage, type SmtpCatcherOptions } from "./smtp-catcher";
export { ServiceError } from "./services/service";
export type { AppState, ClusterApp, RestartPolicy } from "./supervisor";
export { ensureWebBuild, webAppExists, type WebBuild, type WebBuildOptions } from "./web-build";
export { startWebServer, type WebAppConfig, type WebServer, type WebServerOptions } from "./web-server";
export { freeClusterPorts, type ClusterPorts } from "./ports";
