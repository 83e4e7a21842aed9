import { clientAddressResolver } from "@parley/config";
import type http from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { Identity } from "./connection";
import type { EdgeContext } from "./context";
import { admitUpgrade, refuseUpgrade } from "./handshake";
import { HandshakeLimit } from "./handshake-limit";
import { startSession } from "./session";

/** The WebSocket side of the public server. */
export interface Upgrades {
  readonly wss: WebSocketServer;
  /** Sockets whose close handshake has not finished: a drain waits for them so every close frame is delivered. */
  readonly sockets: ReadonlySet<WebSocket>;
}

/**
 * The upgrade path of the public server: the handshake decides (origin, token, per-address limit, draining), then
 * the socket becomes a session.
 */
export function acceptUpgrades(server: http.Server, ctx: EdgeContext, isDraining: () => boolean): Upgrades {
  const { config, verifier, metrics, logger } = ctx;
  const sockets = new Set<WebSocket>();
  // The address the API's and the handshake's per-address limits count: from the trusted load balancer, else the peer.
  const resolveClientAddress = clientAddressResolver(config.TRUST_PROXY);
  const handshakes = new HandshakeLimit(ctx.redis, config.REDIS_KEY_PREFIX, config.HANDSHAKE_RATE_LIMIT);
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.MAX_PAYLOAD_BYTES, perMessageDeflate: false, clientTracking: false });
  /**
   * Starts a socket's session. Out of the upgrade handler on purpose: listeners created there would keep that scope
   * (the request with its headers, the head buffer) alive for the socket's whole life — idle memory per socket.
   */
  const adopt = (ws: WebSocket, socket: Duplex, remoteAddress: string | undefined, identity: Identity | undefined) => {
    sockets.add(ws);
    ws.once("close", () => sockets.delete(ws));
    startSession(ctx, ws, socket, remoteAddress, identity);
  };
  server.on("upgrade", (req: http.IncomingMessage, socket, head: Buffer) => {
    const onError = () => socket.destroy();
    socket.on("error", onError);
    let upgraded = false;
    const clientAddress = resolveClientAddress(req);
    admitUpgrade(req, { allowedOrigins: config.ALLOWED_ORIGINS, verifier, metrics, logger, isDraining, clientAddress, handshakes }).then((decision) => {
      if (!decision.ok) {
        refuseUpgrade(socket, decision.code, decision.message, decision.retryAfterMs);
        return;
      }
      if (isDraining()) {
        refuseUpgrade(socket, "node_restarting");
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        upgraded = true;
        socket.off("error", onError);
        adopt(ws, socket, clientAddress, decision.identity);
      });
    }).catch((error: unknown) => {
      // A bug in one upgrade must not become an unhandled rejection that ends the process (and every socket).
      logger.error({ err: error }, "upgrade failed");
      if (upgraded) socket.destroy();
      else refuseUpgrade(socket, "internal_error");
    });
  });
  return { wss, sockets };
}
