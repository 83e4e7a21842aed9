import { ParleyError } from "@parley/protocol";
import type { RedisClient } from "@parley/bus";
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

  constructor(redis: RedisClient, keyPrefix: string, settings: RateLimitSettings) {
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

  /**
   * Counts one message per entry (a batch of sends; a user may appear several times), all users' counts sent to
   * Redis together. Answers each entry's refusal (rate_limited) or undefined, in order: a user's earliest messages
   * pass while their remaining points last.
   */
  async consumeMessages(userIds: readonly string[]): Promise<(ParleyError | undefined)[]> {
    const perUser = new Map<string, number>();
    for (const userId of userIds) perUser.set(userId, (perUser.get(userId) ?? 0) + 1);
    const refused = new Map<string, { allowed: number; error: ParleyError }>();
    await Promise.all(
      [...perUser].map(async ([userId, count]) => {
        try {
          await this.messages.consume(userId, count);
        } catch (result) {
          if (!(result instanceof RateLimiterRes)) throw result;
          const over = Math.max(0, result.consumedPoints - this.messages.points);
          refused.set(userId, { allowed: Math.max(0, count - over), error: rateLimited(result.msBeforeNext, "Too many messages; slow down.") });
        }
      }),
    );
    const seen = new Map<string, number>();
    return userIds.map((userId) => {
      const refusal = refused.get(userId);
      if (!refusal) return undefined;
      const index = seen.get(userId) ?? 0;
      seen.set(userId, index + 1);
      return index < refusal.allowed ? undefined : refusal.error;
    });
  }

  /** Gives back points counted for messages that were then not written (their batch failed and is retried). */
  async refundMessages(userIds: readonly string[]): Promise<void> {
    const perUser = new Map<string, number>();
    for (const userId of userIds) perUser.set(userId, (perUser.get(userId) ?? 0) + 1);
    await Promise.all([...perUser].map(([userId, count]) => this.messages.reward(userId, count)));
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
