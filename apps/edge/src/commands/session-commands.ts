import type { EdgeConfig } from "@parley/config";
import type { ClientFrameOf } from "@parley/protocol";
import { authenticate, trackExpiry } from "../authentication";
import type { Connection } from "../connection";
import type { EdgeContext } from "../context";

export type ReauthenticateDeps = Pick<EdgeContext, "verifier" | "metrics" | "logger" | "registry" | "clock"> & { readonly config: Pick<EdgeConfig, "JWT_CLOCK_TOLERANCE"> };

/** An `auth` frame on an open socket replaces its token (before expiry); it must be the same user's. */
export async function reauthenticate(ctx: ReauthenticateDeps, connection: Connection, frame: ClientFrameOf<"auth">): Promise<void> {
  const outcome = await authenticate(ctx.verifier, frame.token, ctx.metrics, ctx.logger);
  if (!outcome.ok) {
    connection.error(frame.id, outcome.code, outcome.message);
    connection.strike();
    return;
  }
  if (outcome.identity.userId !== connection.userId) {
    connection.error(frame.id, "forbidden", "The token is for another user; open a new connection.");
    return;
  }
  if (connection.isClosing()) return;
  const previousJti = connection.identity?.claims.jti;
  connection.identity = outcome.identity;
  ctx.registry.reindexToken(connection, previousJti);
  trackExpiry(connection, ctx.clock, ctx.config.JWT_CLOCK_TOLERANCE);
  connection.ack(frame.id, { user_id: connection.userId, expires_at: new Date(outcome.identity.claims.exp * 1000).toISOString() });
}
