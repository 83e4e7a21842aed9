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
    // Held from here on (ioredis has just re-sent SUBSCRIBE, and no reply was read yet): a live event must not
    // overtake the missed ones, even when a socket's catch-up waits behind a command in flight.
    const sockets = registry
      .authenticated()
      .filter((connection) => connection.state === "open")
      .flatMap((connection) => {
        const since = connection.events.lastPos;
        return since === undefined ? [] : [{ connection, since, release: connection.events.suspend() }];
      });
    // A PING queued after the re-SUBSCRIBE answers once the subscriptions are back.
    setImmediate(() => {
      subscriberRedis.ping().then(
        () => {
          logger.warn({ connections: sockets.length }, "subscriber reconnected; replaying what sockets missed");
          for (const { connection, since, release } of sockets) {
            const queued = connection.enqueue(async () => {
              try {
                await resumeFromStream(redis, keyPrefix, connection, since, undefined, { logger, quiet: true });
              } finally {
                release();
              }
            });
            if (queued) continue;
            // Never skip silently: a socket too busy to catch up is closed and resumes after reconnecting.
            release();
            connection.close("slow_consumer");
          }
        },
        (error: unknown) => {
          // The connection dropped again: its next 'ready' catches up from the same positions.
          for (const { release } of sockets) release();
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
