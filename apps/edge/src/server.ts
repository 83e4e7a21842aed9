import type { EdgeConfig } from "@parley/config";
import { createLogger, createOpsHandler, listenOn, type ServingNode } from "@parley/observability";
import { ERRORS } from "@parley/protocol";
import http from "node:http";
import type { Registry } from "prom-client";
import { uuidv7 } from "uuidv7";
import { wireEdge, type EdgeNodeOptions } from "./edge-wiring";
import { edgeLifecycle, type DrainState } from "./lifecycle";
import { acceptUpgrades } from "./upgrade";

export type { EdgeNodeOptions } from "./edge-wiring";

export interface EdgeNode extends ServingNode {
  readonly registry: Registry;
  /** Whether commands travel over the internal channel right now (false without INTERNAL_SECRET, or while it reconnects). */
  readonly internalChannelOpen: boolean;
  /** Open sockets on this node (authenticated or not). */
  readonly connectionCount: number;
  /** Readiness 503, no new upgrades, clients told to reconnect (spread over DRAIN_SPREAD_MS), closed 1012, then close(). */
  drain(): Promise<void>;
  /** Closes every socket (1012) and connection at once. Idempotent. */
  close(): Promise<void>;
}

/**
 * Builds an edge node from validated config: the wiring (Redis connections and what sessions use), one HTTP server
 * whose upgrades become sessions, and the lifecycle that drains and closes it.
 */
export async function createEdgeNode(config: EdgeConfig, options: EdgeNodeOptions = {}): Promise<EdgeNode> {
  const nodeId = config.NODE_ID ?? `edge-${uuidv7().slice(-8)}`;
  const logger = options.logger ?? createLogger({ name: "edge", level: config.LOG_LEVEL, nodeId });
  const state: DrainState = { draining: false };
  const isDraining = () => state.draining;
  const wiring = await wireEdge(config, nodeId, logger, isDraining, options);

  // Probes only on the public port: /metrics is served by the ops server (listenOps), a 404 here.
  const ops = createOpsHandler({ registry: wiring.metricsRegistry, checks: wiring.readiness, isDraining, metrics: false });
  const server = http.createServer((req, res) => {
    if (ops(req, res)) return;
    res.writeHead(ERRORS.not_found.status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify({ error: { code: "not_found", message: ERRORS.not_found.message } }));
  });
  const upgrades = acceptUpgrades(server, wiring.ctx, isDraining);
  const lifecycle = edgeLifecycle(config, wiring, server, upgrades, state);

  const { registry } = wiring.ctx;
  return {
    nodeId,
    registry: wiring.metricsRegistry,
    get internalChannelOpen() {
      return wiring.channel?.isOpen ?? false;
    },
    get connectionCount() {
      return registry.size;
    },
    listen(port = config.PORT, host = "0.0.0.0") {
      return listenOn(server, port, host);
    },
    listenOps(port = config.OPS_PORT, host = "0.0.0.0") {
      return lifecycle.listenOps(port, host);
    },
    drain() {
      return lifecycle.drain();
    },
    close() {
      return lifecycle.close();
    },
  };
}
