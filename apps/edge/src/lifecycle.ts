import type { EdgeConfig } from "@parley/config";
import { closeAll, startOpsServer, type OpsServer } from "@parley/observability";
import type http from "node:http";
import { drainConnections } from "./drain";
import type { EdgeWiring } from "./edge-wiring";
import type { Upgrades } from "./upgrade";

/** Whether the node is going away: readiness answers 503 and upgrades are refused from the moment it is set. */
export interface DrainState {
  draining: boolean;
}

export interface EdgeLifecycle {
  /** Starts the ops server once (`/metrics`, `/healthz`, `/readyz`); resolves with its port. */
  listenOps(port: number, host: string): Promise<number>;
  /** Readiness 503, no new upgrades, clients told to reconnect (spread over DRAIN_SPREAD_MS), closed 1012, then close(). */
  drain(): Promise<void>;
  /** Closes every socket (1012) and connection at once. Idempotent. */
  close(): Promise<void>;
}

/** How an edge node ends: a drain that hands clients to other nodes, and a close that releases everything in order. */
export function edgeLifecycle(config: EdgeConfig, wiring: EdgeWiring, server: http.Server, upgrades: Upgrades, state: DrainState): EdgeLifecycle {
  const { ctx } = wiring;
  const { logger, registry } = ctx;
  let opsServer: OpsServer | undefined;
  let closing: Promise<void> | undefined;
  let drainWork: Promise<void> | undefined;

  const close = (): Promise<void> => {
    closing ??= (async () => {
      state.draining = true;
      wiring.stop();
      await closeAll(logger, [
        [
          "sockets",
          () => {
            for (const connection of registry.connections()) connection.close("node_restarting");
          },
        ],
        [
          "http server",
          () => {
            server.close();
            server.closeAllConnections();
            upgrades.wss.close();
          },
        ],
        ["ops server", () => opsServer?.close()],
        ...wiring.closeSteps,
      ]);
      logger.info("edge node closed");
    })();
    return closing;
  };

  return {
    async listenOps(port, host) {
      if (closing) throw new Error("the edge node is closed");
      opsServer ??= await startOpsServer({ registry: wiring.metricsRegistry, checks: wiring.readiness, isDraining: () => state.draining, port, host });
      return opsServer.port;
    },
    drain() {
      drainWork ??= (async () => {
        state.draining = true;
        logger.info({ connections: registry.size, spreadMs: config.DRAIN_SPREAD_MS }, "draining");
        await drainConnections(registry.connections(), config.DRAIN_SPREAD_MS);
        // Close handshakes finish (a socket that does not answer is destroyed after 5 s) before the process exits.
        const deadline = Date.now() + 6_000;
        while (upgrades.sockets.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        await close();
      })();
      return drainWork;
    },
    close,
  };
}
