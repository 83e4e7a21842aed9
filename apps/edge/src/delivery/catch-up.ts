import type { ChannelSubscriber, RedisClient } from "@parley/bus";
import type { Logger } from "@parley/observability";
import type { ConnectionRegistry } from "../connection-registry";
import { resumeFromStream } from "./stream-replay";

/**
 * Events published while the node's subscriptions were down (its subscriber connection dropped, or on a Redis
 * Cluster the master of a shard failed over) never arrive live. When they come back, every open socket replays its
 * user's stream from the last position it was sent, deduplicated by `pos`, so a Redis blip loses nothing. Returns
 * the function that stops watching.
 */
export function catchUpAfterReconnect(subscriber: ChannelSubscriber, redis: RedisClient, keyPrefix: string, registry: ConnectionRegistry, logger: Logger): () => void {
  return subscriber.onResubscribed((confirmed) => {
    // Held from here on (ioredis has just re-sent SUBSCRIBE or SSUBSCRIBE, and no reply was read yet): a live event
    // must not overtake the missed ones, even when a socket's catch-up waits behind a command in flight.
    const sockets = registry
      .authenticated()
      .filter((connection) => connection.state === "open")
      .flatMap((connection) => {
        const since = connection.events.lastPos;
        return since === undefined ? [] : [{ connection, since, release: connection.events.suspend() }];
      });
    confirmed().then(
      () => {
        logger.warn({ connections: sockets.length }, "subscriptions back; replaying what sockets missed");
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
        // The connection dropped again: its next resubscription catches up from the same positions.
        for (const { release } of sockets) release();
        logger.warn({ err: error }, "subscriptions could not be confirmed after reconnect");
      },
    );
  });
}
