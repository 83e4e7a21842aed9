import type { Logger } from "@parley/observability";
import type { Redis } from "ioredis";
import type { ConnectionRegistry } from "../connection-registry";
import { resumeFromStream } from "./stream-replay";

/**
 * Events published while the node's subscriber connection was down never arrive live. When it comes back (and
 * ioredis has re-subscribed), every open socket replays its user's stream from the last position it was sent,
 * deduplicated by `pos`, so a Redis blip loses nothing. Returns the function that stops watching.
 */
export function catchUpAfterReconnect(subscriberRedis: Redis, redis: Redis, keyPrefix: string, registry: ConnectionRegistry, logger: Logger): () => void {
  const onReady = () => {
    // 'ready' fires before ioredis re-sends SUBSCRIBE; a PING queued after it answers once the subscriptions are back.
    setImmediate(() => {
      subscriberRedis.ping().then(
        () => {
          const connections = registry.authenticated().filter((connection) => connection.state === "open");
          logger.warn({ connections: connections.length }, "subscriber reconnected; replaying what sockets missed");
          for (const connection of connections) {
            const since = connection.events.lastPos;
            if (since === undefined) continue;
            const queued = connection.enqueue(() => resumeFromStream(redis, keyPrefix, connection, since, undefined, { quiet: true }));
            // Never skip silently: a socket too busy to catch up is closed and resumes after reconnecting.
            if (!queued) connection.close("slow_consumer");
          }
        },
        (error: unknown) => {
          logger.warn({ err: error }, "subscriber ping after reconnect failed");
        },
      );
    });
  };
  subscriberRedis.on("ready", onReady);
  return () => {
    subscriberRedis.off("ready", onReady);
  };
}
