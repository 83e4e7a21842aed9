import type { Clock } from "./clock";

/** Why the client asks for a token: the first connect, a refresh before `exp`, or after the server refused one. */
export type TokenRequestReason = "initial" | "refresh" | "rejected";

/** Returns a valid access token (from your login flow or identity provider); called again before it expires. */
export type TokenProvider = (context: { readonly reason: TokenRequestReason }) => string | Promise<string>;

/** The `exp` claim of a JWT in ms since the epoch, read without verifying (the server verifies). */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "="));
    const claims: unknown = JSON.parse(json);
    if (typeof claims === "object" && claims !== null && "exp" in claims && typeof claims.exp === "number") return claims.exp * 1000;
  } catch {
    // Not a JWT we can read: no refresh schedule, the server's 4001 still triggers one.
  }
  return undefined;
}

/**
 * When to refresh a token: `marginMs` before `exp`, but never later than half-way through the remaining lifetime
 * (short-lived tokens), and never in the past.
 */
export function refreshDelay(expiresAt: number, now: number, marginMs: number): number {
  const remaining = expiresAt - now;
  if (remaining <= 0) return 0;
  return Math.max(0, remaining - Math.min(marginMs, remaining / 2));
}

/** Caches the token and funnels concurrent refreshes into one provider call. */
export class TokenSource {
  private token: string | undefined;
  private inflight: Promise<string> | undefined;

  constructor(
    private readonly provider: TokenProvider,
    private readonly clock: Clock,
  ) {}

  /** The cached token, or the provider's first one. */
  async current(): Promise<string> {
    return this.token ?? this.fetch("initial");
  }

  /** Asks the provider again (deduplicated while one call is running). */
  async fetch(reason: TokenRequestReason): Promise<string> {
    this.inflight ??= (async () => {
      try {
        const token = await this.provider({ reason });
        if (typeof token !== "string" || token.length === 0) throw new TypeError("the token provider returned no token");
        this.token = token;
        return token;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  /** Milliseconds until the current token should be refreshed; undefined when its expiry is unknown. */
  refreshIn(marginMs: number): number | undefined {
    if (this.token === undefined) return undefined;
    const expiresAt = tokenExpiry(this.token);
    return expiresAt === undefined ? undefined : refreshDelay(expiresAt, this.clock.now(), marginMs);
  }
}
