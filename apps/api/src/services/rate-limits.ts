import { ParleyError } from "@parley/protocol";
import type { Redis } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

export interface RateLimitSettings {
  /** Messages one user may send per minute, over WebSocket and REST together. */
  readonly messagesPerMinute: number;
  readonly requestsPerMinutePerUser: number;
  readonly requestsPerMinutePerIp: number;
  /** Failed logins for one account from one address in 15 minutes; the next attempt is refused for 15 minutes. */
  readonly loginFailuresPerAccountAndIp: number;
  /** Failed logins for one account from every address together (a distributed guess). */
  readonly loginFailuresPerAccount: number;
  /** Failed logins from one address over every account. */
  readonly loginFailuresPerIp: number;
  /** Registrations per address per minute (each costs an argon2id hash). */
  readonly registrationsPerMinutePerIp: number;
}

export const DEFAULT_RATE_LIMITS: Pick<RateLimitSettings, "loginFailuresPerAccountAndIp" | "loginFailuresPerAccount" | "loginFailuresPerIp" | "registrationsPerMinutePerIp"> = {
  loginFailuresPerAccountAndIp: 10,
  loginFailuresPerAccount: 50,
  loginFailuresPerIp: 100,
  registrationsPerMinutePerIp: 60,
};

const LOGIN_WINDOW_S = 15 * 60;

/** Cluster-wide limits kept in Redis, so every API node counts the same requests. */
export class RateLimits {
  private readonly messages: RateLimiterRedis;
  private readonly userRequests: RateLimiterRedis;
  private readonly ipRequests: RateLimiterRedis;
  private readonly accountIpLogins: RateLimiterRedis;
  private readonly accountLogins: RateLimiterRedis;
  private readonly ipLogins: RateLimiterRedis;
  private readonly registrations: RateLimiterRedis;

  constructor(redis: Redis, keyPrefix: string, settings: RateLimitSettings) {
    const limiter = (name: string, points: number, duration: number, blockDuration = 0) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${keyPrefix}rl:${name}`, points, duration, blockDuration });
    this.messages = limiter("msg", settings.messagesPerMinute, 60);
    this.userRequests = limiter("req-user", settings.requestsPerMinutePerUser, 60);
    this.ipRequests = limiter("req-ip", settings.requestsPerMinutePerIp, 60);
    this.accountIpLogins = limiter("login-account-ip", settings.loginFailuresPerAccountAndIp, LOGIN_WINDOW_S, LOGIN_WINDOW_S);
    this.accountLogins = limiter("login-account", settings.loginFailuresPerAccount, LOGIN_WINDOW_S, LOGIN_WINDOW_S);
    this.ipLogins = limiter("login-ip", settings.loginFailuresPerIp, LOGIN_WINDOW_S, LOGIN_WINDOW_S);
    this.registrations = limiter("register-ip", settings.registrationsPerMinutePerIp, 60);
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

  /** Counts one registration from `ip` before its password is hashed. */
  consumeRegistration(ip: string): Promise<void> {
    return consume(this.registrations, ip, "Too many registrations from this address; try again later.");
  }

  /**
   * Counts a login attempt as a failure before the password is verified, atomically in Redis, so parallel guesses
   * cannot all be verified before the first refusal: the 11th attempt of 10 allowed is refused.
   * {@link recordLoginSuccess} gives the points back.
   */
  async consumeLoginAttempt(username: string, ip: string): Promise<void> {
    const keys = [
      [this.accountIpLogins, `${username}|${ip}`],
      [this.accountLogins, username],
      [this.ipLogins, ip],
    ] as const;
    const results = await Promise.allSettled(keys.map(([limiter, key]) => limiter.consume(key)));
    const refused = results.find((result) => result.status === "rejected");
    if (refused === undefined) return;
    if (refused.reason instanceof RateLimiterRes) throw rateLimited(refused.reason.msBeforeNext, "Too many failed logins; try again later.");
    throw refused.reason;
  }

  async recordLoginSuccess(username: string, ip: string): Promise<void> {
    await Promise.all([this.accountIpLogins.delete(`${username}|${ip}`), this.accountLogins.reward(username, 1), this.ipLogins.reward(ip, 1)]);
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
