import { createTokenVerifier, fromConfig, RevocationStore } from "@parley/auth";
import { BLOCKS_CONTROL, blockSignal, busKeys, ChannelSubscriber, createRedisClient, parseJsonWith, PresenceStore } from "@parley/bus";
import { clientAddressResolver, systemClock, type Clock, type EdgeConfig } from "@parley/config";
import { closeAll, createLogger, createMetrics, createOpsHandler, listenOn, logConnectionErrors, redisCheck, startOpsServer, type Logger, type OpsServer } from "@parley/observability";
import { ERRORS } from "@parley/protocol";
import http from "node:http";
import type { Duplex } from "node:stream";
import type { Registry } from "prom-client";
import { uuidv7 } from "uuidv7";
import { WebSocketServer, type WebSocket } from "ws";
import { ApiClient, type ApiGateway } from "./api-client";
import { DEFAULT_LIMITS, type ConnectionLimits, type Identity } from "./connection";
import { ConnectionRegistry } from "./connection-registry";
import type { EdgeContext } from "./context";
import { catchUpAfterReconnect } from "./delivery/catch-up";
import { UserDelivery } from "./delivery/user-delivery";
import { drainConnections } from "./drain";
import { admitUpgrade, refuseUpgrade } from "./handshake";
import { HandshakeLimit } from "./handshake-limit";
import { startHeartbeat } from "./heartbeat";
import { MembershipCache } from "./membership-cache";
import { InternalChannel } from "./internal-channel";
import { createEdgeMetrics } from "./metrics";
import { BlockLists } from "./presence/block-lists";
import { PresenceTracker } from "./presence/presence-tracker";
import { PresenceWatchers } from "./presence/presence-watchers";
import { TypingHub } from "./presence/typing";
import { startSession } from "./session";

export interface EdgeNodeOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** A typing indicator ends by itself after this long without `typing_start`; 5 s unless given. */
  readonly typingTtlMs?: number;
  /** Offline is announced this long after a user's last connection closed; 5 s unless given. */
  readonly presenceGraceMs?: number;
  /** A connection not refreshed for this long (its node died) stops counting; 1.5 × HEARTBEAT_MS unless given. */
  readonly presenceTtlMs?: number;
  readonly limits?: Partial<Omit<ConnectionLimits, "slowConsumerBytes">>;
}

export interface EdgeNode {
  readonly nodeId: string;
  readonly registry: Registry;
  /** Whether commands travel over the internal channel right now (false without INTERNAL_SECRET, or while it reconnects). */
  readonly internalChannelOpen: boolean;
  /** Open sockets on this node (authenticated or not). */
  readonly connectionCount: number;
  /** Listens on `port` (0 picks a free one); resolves with the bound port. */
  listen(port?: number, host?: string): Promise<number>;
  /** Starts the ops server (`/metrics`, `/healthz`, `/readyz`) on `port` (OPS_PORT unless given; 0 picks one); resolves with it. */
  listenOps(port?: number, host?: string): Promise<number>;
  /** Readiness 503, no new upgrades, clients told to reconnect (spread over DRAIN_SPREAD_MS), closed 1012, then close(). */
  drain(): Promise<void>;
  /** Closes every socket (1012) and connection at once. Idempotent. */
  close(): Promise<void>;
}

/** Builds an edge node from validated config: one Redis command connection, one subscriber connection, one HTTP server. */
export async function createEdgeNode(config: EdgeConfig, options: EdgeNodeOptions = {}): Promise<EdgeNode> {
  const nodeId = config.NODE_ID ?? `edge-${uuidv7().slice(-8)}`;
  const logger = options.logger ?? createLogger({ name: "edge", level: config.LOG_LEVEL, nodeId });
  const clock = options.clock ?? systemClock;
  const keyPrefix = config.REDIS_KEY_PREFIX;

  // Auto-pipelining: the Redis work of sockets connecting in the same tick (presence, positions, revocation checks)
  // leaves in one write instead of one per command.
  const redis = createRedisClient(config, { maxRetriesPerRequest: 3, lazyConnect: true, connectionName: `parley:${nodeId}`, enableAutoPipelining: true });
  // On a Redis Cluster, ChannelSubscriber adds one sharded subscriber connection per master (user, conversation and
  // presence channels); this one carries the plain broadcasts (revocations).
  const subscriberRedis = createRedisClient(config, { maxRetriesPerRequest: 3, lazyConnect: true, connectionName: `parley:${nodeId}:subscriber` });
  // ioredis reconnects by itself; without a listener its errors would go to the console.
  logConnectionErrors(logger, "redis", redis, subscriberRedis);
  await redis.connect();
  await subscriberRedis.connect();
  const subscriber = new ChannelSubscriber(subscriberRedis);
  // Revocation broadcasts share the node's one subscriber connection.
  const revocations = new RevocationStore({ redis, subscriber: subscriberRedis, keyPrefix, now: () => clock.now().getTime() });
  await revocations.start();
  const verifier = createTokenVerifier(fromConfig(config, { revocations, now: () => clock.now() }));
  const keys = busKeys(keyPrefix);
  const store = new PresenceStore({
    redis,
    keyPrefix,
    ttlMs: options.presenceTtlMs ?? Math.max(1_000, Math.round(config.HEARTBEAT_MS * 1.5)),
    offlineGraceMs: options.presenceGraceMs ?? config.PRESENCE_GRACE_MS,
    now: () => clock.now().getTime(),
  });

  let draining = false;
  const registry = new ConnectionRegistry();
  const metrics = createMetrics({ service: "edge", nodeId });
  const edgeMetrics = createEdgeMetrics(metrics, {
    connectionStats: () => registry.stats(),
    subscribedChannels: () => subscriber.channelCount,
    draining: () => draining,
  });
  const rest = new ApiClient({ baseUrl: config.API_URL, logger });
  const channel =
    config.INTERNAL_SECRET === undefined
      ? undefined
      : new InternalChannel({
          apiUrl: config.API_URL,
          secret: config.INTERNAL_SECRET,
          fallback: rest,
          logger,
          onStateChange: (open) => edgeMetrics.internalChannelUp.set(open ? 1 : 0),
        });
  const api: ApiGateway = channel ?? rest;
  const membership = new MembershipCache(api, clock);
  const graceMs = options.presenceGraceMs ?? config.PRESENCE_GRACE_MS;
  const presence = new PresenceTracker({
    store,
    redis,
    keys,
    nodeId,
    graceMs,
    logger,
    localRefs: () => registry.authenticated().map((connection) => ({ userId: connection.userId, connectionId: connection.id, node: nodeId })),
  });
  const watchers = new PresenceWatchers({ subscriber, store, keys, clock, graceMs, pollMs: store.refreshIntervalMs, logger });
  const blocks = new BlockLists({ api, clock, logger });
  const typing = new TypingHub({ subscriber, redis, keys, nodeId, ttlMs: options.typingTtlMs ?? 5_000, logger, blocked: (viewer, typist) => blocks.blocked(viewer, typist) });
  // A block, on any API node: the blocker's list changes here, and presence watches between the two stop at once.
  const stopBlockWatch = await subscriber.subscribe(keys.controlChannel(BLOCKS_CONTROL), (message) => {
    const signal = parseJsonWith(blockSignal, message);
    if (!signal) {
      logger.warn("dropped a malformed block signal");
      return;
    }
    blocks.apply(signal);
    if (!signal.blocked) return;
    for (const [userId, other] of [[signal.blocker_id, signal.blocked_id], [signal.blocked_id, signal.blocker_id]] as const) {
      for (const connection of registry.ofUser(userId)) void watchers.stopWatching(connection, other).catch(() => undefined);
    }
  });
  const delivery = new UserDelivery({
    subscriber,
    keys,
    logger,
    onMalformed: () => edgeMetrics.malformedEvents.inc(),
    observe: (userId, { event }) => {
      if (event.type !== "conversation_updated") return;
      // Participants may have changed: typing permissions are asked of the API again.
      const { id, participants } = event.conversation;
      membership.invalidate(id);
      if (participants === undefined || participants.some((participant) => participant.user_id === userId)) return;
      // Removed from the conversation: its typing signals stop reaching this user's sockets.
      for (const connection of registry.ofUser(userId)) {
        if (connection.subscriptions.delete(id)) void typing.leave(connection, id).catch(() => undefined);
      }
    },
  });

  const ctx: EdgeContext = {
    config,
    nodeId,
    logger,
    clock,
    redis,
    keys,
    api,
    verifier,
    registry,
    delivery,
    typing,
    presence,
    watchers,
    membership,
    blocks,
    metrics: edgeMetrics,
    limits: { ...DEFAULT_LIMITS, ...options.limits, slowConsumerBytes: config.SLOW_CONSUMER_BYTES },
    initialHoldMs: 250,
    pendingCleanups: new Set(),
  };

  const stopTokenWatch = revocations.onRevoked((jti) => {
    for (const connection of registry.withToken(jti)) connection.close("token_revoked");
  });
  // A suspended or erased account: every socket of the user closes on every node at once.
  const stopSubjectWatch = revocations.onSubjectRevoked((sub) => {
    for (const connection of registry.ofUser(sub)) connection.close("account_suspended");
  });
  const stopRevocationWatch = () => {
    stopTokenWatch();
    stopSubjectWatch();
  };
  const stopCatchUp = catchUpAfterReconnect(subscriber, redis, keyPrefix, registry, logger);
  presence.start();
  watchers.start();
  const stopHeartbeat = startHeartbeat(registry, config.HEARTBEAT_MS);

  /** Sockets whose close handshake has not finished: a drain waits for them so every close frame is delivered. */
  const sockets = new Set<WebSocket>();
  // The address the API's and the handshake's per-address limits count: from the trusted load balancer, else the peer.
  const resolveClientAddress = clientAddressResolver(config.TRUST_PROXY);
  const handshakes = new HandshakeLimit(redis, keyPrefix, config.HANDSHAKE_RATE_LIMIT);
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.MAX_PAYLOAD_BYTES, perMessageDeflate: false, clientTracking: false });
  const probes = { registry: metrics.registry, checks: { redis: redisCheck(redis) }, isDraining: () => draining };
  // Probes only on the public port: /metrics is served by the ops server (listenOps), a 404 here.
  const ops = createOpsHandler({ ...probes, metrics: false });
  let opsServer: OpsServer | undefined;
  const server = http.createServer((req, res) => {
    if (ops(req, res)) return;
    res.writeHead(ERRORS.not_found.status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify({ error: { code: "not_found", message: ERRORS.not_found.message } }));
  });
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
    admitUpgrade(req, { allowedOrigins: config.ALLOWED_ORIGINS, verifier, metrics: edgeMetrics, logger, isDraining: () => draining, clientAddress, handshakes }).then((decision) => {
      if (!decision.ok) {
        refuseUpgrade(socket, decision.code, decision.message, decision.retryAfterMs);
        return;
      }
      if (draining) {
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

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      stopHeartbeat();
      stopRevocationWatch();
      stopCatchUp();
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
            wss.close();
          },
        ],
        ["ops server", () => opsServer?.close()],
        ["connection cleanups", () => Promise.allSettled([...ctx.pendingCleanups])],
        ["internal channel", () => channel?.close() ?? Promise.resolve()],
        ["block signals", () => stopBlockWatch()],
        ["typing", () => typing.close()],
        ["presence watchers", () => watchers.close()],
        ["presence", () => presence.close()],
        ["revocations", () => revocations.close()],
        ["subscriber", () => subscriber.close()],
        ["redis", () => redis.quit().catch(() => redis.disconnect())],
      ]);
      logger.info("edge node closed");
    })();
    return closing;
  };

  let drainWork: Promise<void> | undefined;
  return {
    nodeId,
    registry: metrics.registry,
    get internalChannelOpen() {
      return channel?.isOpen ?? false;
    },
    get connectionCount() {
      return registry.size;
    },
    listen(port = config.PORT, host = "0.0.0.0") {
      return listenOn(server, port, host);
    },
    async listenOps(port = config.OPS_PORT, host = "0.0.0.0") {
      if (closing) throw new Error("the edge node is closed");
      opsServer ??= await startOpsServer({ ...probes, port, host });
      return opsServer.port;
    },
    drain() {
      drainWork ??= (async () => {
        draining = true;
        logger.info({ connections: registry.size, spreadMs: config.DRAIN_SPREAD_MS }, "draining");
        await drainConnections(registry.connections(), config.DRAIN_SPREAD_MS);
        // Close handshakes finish (a socket that does not answer is destroyed after 5 s) before the process exits.
        const deadline = Date.now() + 6_000;
        while (sockets.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        await close();
      })();
      return drainWork;
    },
    close,
  };
}
