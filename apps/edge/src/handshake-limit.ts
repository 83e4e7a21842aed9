import type { RedisClient } from "@parley/bus";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

/** WebSocket handshakes per client address per minute, counted across the cluster in Redis. */
export class HandshakeLimit {
  private readonly limiter: RateLimiterRedis;

  constructor(redis: RedisClient, keyPrefix: string, perMinute: number) {
    this.limiter = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${keyPrefix}rl:handshake`, points: perMinute, duration: 60 });
  }

  /** Counts one handshake; undefined when allowed, else the milliseconds until the address may try again. */
  async consume(address: string): Promise<number | undefined> {
    try {
      await this.limiter.consume(address);
      return undefined;
    } catch (result) {
      if (result instanceof RateLimiterRes) return Math.max(1, Math.ceil(result.msBeforeNext));
      throw result;
    }
  }
}
