import { createTokenVerifier, fromConfig, RevocationStore } from "@parley/auth";
import { BLOCKS_CONTROL, blockSignal, busKeys, ChannelSubscriber, createRedisClient, PresenceStore, type BusKeys } from "@parley/bus";
import { parseJsonWith } from "@parley/protocol";
import { systemClock, type Clock, type EdgeConfig } from "@parley/config";
import { createMetrics, logConnectionErrors, redisCheck, type CloseStep, type Logger, type ReadinessCheck } from "@parley/observability";
import type { Registry } from "prom-client";
import { ApiClient, type ApiGateway } from "./api-client";
import { DEFAULT_LIMITS, type ConnectionLimits } from "./connection";
import { ConnectionRegistry } from "./connection-registry";
import type { EdgeContext } from "./context";
import { catchUpAfterReconnect } from "./delivery/catch-up";
import { UserDelivery } from "./delivery/user-delivery";
import { startHeartbeat } from "./heartbeat";
import { InternalChannel } from "./internal-channel";
import { MembershipCache } from "./membership-cache";
import { createEdgeMetrics } from "./metrics";
import { BlockLists } from "./presence/block-lists";
import { PresenceTracker } from "./presence/presence-tracker";
import { PresenceWatchers } from "./presence/presence-watchers";
import { TypingHub } from "./presence/typing";

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

/** An edge node's parts, connected and running, before any socket arrives. */
export interface EdgeWiring {
  /** What sessions and their commands use. */
  readonly ctx: EdgeContext;
  /** The node's Prometheus registry (`/metrics`). */
  readonly metricsRegistry: Registry;
  /** What `/readyz` checks. */
  readonly readiness: Record<string, ReadinessCheck>;
  /** The internal channel to the API, when INTERNAL_SECRET is set. */
  readonly channel: InternalChannel | undefined;
  /** Stops the heartbeat and the watches that close sockets (revocations, catch-up): the first step of a close. */
  stop(): void;
  /** Closes what the wiring opened, in order; run after the sockets and servers are closed. */
  readonly closeSteps: readonly CloseStep[];
}

/**
 * Connects an edge node's Redis (one command connection, one subscriber connection) and builds everything its
 * sessions use: token verification with revocations, presence, typing, block lists, the API gateway, delivery.
 */
export async function wireEdge(config: EdgeConfig, nodeId: string, logger: Logger, isDraining: () => boolean, options: EdgeNodeOptions): Promise<EdgeWiring> {
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

  const registry = new ConnectionRegistry();
  const metrics = createMetrics({ service: "edge", nodeId });
  const edgeMetrics = createEdgeMetrics(metrics, {
    connectionStats: () => registry.stats(),
    subscribedChannels: () => subscriber.channelCount,
    draining: isDraining,
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
    clock,
    logger,
    localRefs: () => registry.authenticated().map((connection) => ({ userId: connection.userId, connectionId: connection.id, node: nodeId })),
  });
  const watchers = new PresenceWatchers({ subscriber, store, keys, clock, graceMs, pollMs: store.refreshIntervalMs, logger });
  const blocks = new BlockLists({ api, clock, logger });
  const typing = new TypingHub({ subscriber, redis, keys, nodeId, ttlMs: options.typingTtlMs ?? 5_000, clock, logger, blocked: (viewer, typist) => blocks.blocked(viewer, typist) || blocks.recentlyBlocked(viewer, typist) });
  const stopBlockWatch = await watchBlockSignals(subscriber, keys, blocks, watchers, registry, logger);
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

  const stopRevocationWatch = closeRevokedSockets(revocations, registry);
  const stopCatchUp = catchUpAfterReconnect(subscriber, redis, keyPrefix, registry, logger);
  presence.start();
  watchers.start();
  const stopHeartbeat = startHeartbeat(registry, config.HEARTBEAT_MS);

  return {
    ctx,
    metricsRegistry: metrics.registry,
    readiness: { redis: redisCheck(redis) },
    channel,
    stop() {
      stopHeartbeat();
      stopRevocationWatch();
      stopCatchUp();
    },
    closeSteps: [
      ["connection cleanups", () => Promise.allSettled([...ctx.pendingCleanups])],
      ["internal channel", () => channel?.close() ?? Promise.resolve()],
      ["block signals", () => stopBlockWatch()],
      ["typing", () => typing.close()],
      ["presence watchers", () => watchers.close()],
      ["presence", () => presence.close()],
      ["revocations", () => revocations.close()],
      ["subscriber", () => subscriber.close()],
      ["redis", () => redis.quit().catch(() => redis.disconnect())],
    ],
  };
}

/** A block, on any API node: the blocker's list changes here, and presence watches between the two stop at once. */
async function watchBlockSignals(subscriber: ChannelSubscriber, keys: BusKeys, blocks: BlockLists, watchers: PresenceWatchers, registry: ConnectionRegistry, logger: Logger): Promise<() => Promise<void>> {
  return subscriber.subscribe(keys.controlChannel(BLOCKS_CONTROL), (message) => {
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
}

/** A revoked token closes its sockets; a suspended or erased account closes every socket of the user, on every node at once. */
function closeRevokedSockets(revocations: RevocationStore, registry: ConnectionRegistry): () => void {
  const stopTokenWatch = revocations.onRevoked((jti) => {
    for (const connection of registry.withToken(jti)) connection.close("token_revoked");
  });
  const stopSubjectWatch = revocations.onSubjectRevoked((sub) => {
    for (const connection of registry.ofUser(sub)) connection.close("account_suspended");
  });
  return () => {
    stopTokenWatch();
    stopSubjectWatch();
  };
}
