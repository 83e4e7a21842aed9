import { AuthError, type TokenVerifier } from "@parley/auth";
import type { Logger } from "@parley/observability";
import type { Clock, ClockTimer } from "@parley/config";
import type { Connection, Identity } from "./connection";
import type { EdgeMetrics } from "./metrics";

export type AuthOutcome =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly code: "invalid_token" | "token_expired" | "token_revoked" | "account_suspended" | "forbidden" | "unavailable"; readonly message: string };

/** Verifies a token (signature, pinned algorithm, exp, revocation); a failure of Redis is `unavailable`, not the token's fault. */
export async function authenticate(verifier: TokenVerifier, token: string, metrics: EdgeMetrics, logger: Logger): Promise<AuthOutcome> {
  try {
    const claims = await verifier.verify(token);
    if (claims.role === "service") {
      // Integrations act through REST only (PROTOCOL.md): a service token has no user to deliver to.
      metrics.authFailures.inc({ reason: "service_token" });
      return { ok: false, code: "forbidden", message: "Service tokens act through the REST API only." };
    }
    return { ok: true, identity: { userId: claims.sub, token, claims } };
  } catch (error) {
    if (error instanceof AuthError) {
      metrics.authFailures.inc({ reason: error.reason });
      return { ok: false, code: error.code, message: error.message };
    }
    logger.error({ err: error }, "token verification failed");
    metrics.authFailures.inc({ reason: "unavailable" });
    return { ok: false, code: "unavailable", message: "Tokens cannot be checked right now; retry later." };
  }
}

const expiryTimers = new WeakMap<Connection, ClockTimer>();

/**
 * Closes the socket 4001 when its token expires (as the verifier sees it: exp plus the allowed clock skew),
 * unless a fresh `auth` frame replaced the token before. The timer runs on the injected clock, as the verifier does.
 */
export function trackExpiry(connection: Connection, clock: Clock, clockToleranceMs: number): void {
  connection.cancel(expiryTimers.get(connection));
  const exp = connection.identity?.claims.exp;
  if (exp === undefined) return;
  const delay = exp * 1000 + clockToleranceMs - clock.now().getTime();
  expiryTimers.set(
    connection,
    connection.after(delay, () => connection.close("token_expired"), clock),
  );
}
