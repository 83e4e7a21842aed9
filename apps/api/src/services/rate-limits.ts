import { ParleyError } from "@parley/protocol";
import type { Redis } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

export interface RateLimitSettings {
  /** Messages one user may send per minute, over WebSocket and REST together. */
  readonly messagesPerMinute: number;
  readonly requestsPerMinutePerUser: number;
  readonly requestsPerMinutePerIp: number;
  /** Failed logins per account (from one IP) before it is throttled for 15 minutes. */
  readonly loginFailuresPerAccount: number;
  readonly loginFailuresPerIp: number;
}

export const DEFAULT_RATE_LIMITS: Pick<RateLimitSettings, "loginFailuresPerAccount" | "loginFailuresPerIp"> = {
  loginFailuresPerAccount: 10,
  loginFailuresPerIp: 100,
};

/** Cluster-wide limits kept in Redis, so every API node counts the same requests. */
export class RateLimits {
  private readonly messages: RateLimiterRedis;
  private readonly userRequests: RateLimiterRedis;
  private readonly ipRequests: RateLimiterRedis;
  private readonly accountLogins: RateLimiterRedis;
  private readonly ipLogins: RateLimiterRedis;

  constructor(redis: Redis, keyPrefix: string, settings: RateLimitSettings) {
    const limiter = (name: string, points: number, duration: number, blockDuration = 0) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${keyPrefix}rl:${name}`, points, duration, blockDuration });
    this.messages = limiter("msg", settings.messagesPerMinute, 60);
    this.userRequests = limiter("req-user", settings.requestsPerMinutePerUser, 60);
    this.ipRequests = limiter("req-ip", settings.requestsPerMinutePerIp, 60);
    this.accountLogins = limiter("login-account", settings.loginFailuresPerAccount, 15 * 60, 15 * 60);
    this.ipLogins = limiter("login-ip", settings.loginFailuresPerIp, 15 * 60, 15 * 60);
  }

  /** Counts one message sent by `userId`; throws rate_limited with retry_after_ms past the limit. */
  consumeMessage(userId: string): Promise<void> {
    return consume(this.messages, userId, "Too many messages; slow down.");
  }

  consumeIpRequest(ip: string): Promise<void> {
    return consume(this.ipRequests, ip, "Too many requests from this address.");
  }

  consumeUserRequest(userId: string): Promise<void> {
    return consume(this.userRequests, userId, "Too many requests.");
  }

  /** Throws when this account or address is throttled after too many failed logins. */
  async assertLoginAllowed(username: string, ip: string): Promise<void> {
    for (const [limiter, key] of [
      [this.accountLogins, `${username}|${ip}`],
      [this.ipLogins, ip],
    ] as const) {
      const state = await limiter.get(key);
      if (state && state.consumedPoints > limiter.points) throw rateLimited(state.msBeforeNext, "Too many failed logins; try again later.");
    }
  }

  async recordLoginFailure(username: string, ip: string): Promise<void> {
    await Promise.all([
      this.accountLogins.penalty(`${username}|${ip}`, 1),
      this.ipLogins.penalty(ip, 1),
    ]);
  }

  async recordLoginSuccess(username: string, ip: string): Promise<void> {
    await this.accountLogins.delete(`${username}|${ip}`);
  }
}

async function consume(limiter: RateLimiterRedis, key: string, message: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (result) {
    if (result instanceof RateLimiterRes) throw rateLimited(result.msBeforeNext, message);
    throw result;
  }
}

function rateLimited(msBeforeNext: number, message: string): ParleyError {
  return new ParleyError("rate_limited", message, undefined, { retry_after_ms: Math.max(1, Math.ceil(msBeforeNext)) });
}
