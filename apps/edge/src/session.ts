import { latestPos, type ConnectionRef } from "@parley/bus";
import { parseClientFrame } from "@parley/protocol";
import { uuidv7 } from "uuidv7";
import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import { callerOf } from "./api-caller";
import { authenticate, trackExpiry } from "./authentication";
import { Connection, type Identity } from "./connection";
import type { EdgeContext } from "./context";
import { frameText, handleOpenFrame } from "./frame-handler";

/** Before authentication a socket may send little: the `auth` frame, and one small command pipelined behind it. */
const PRE_AUTH_MAX_BYTES = 16 * 1024;
const BUFFERED_MAX_BYTES = 4 * 1024;

function refOf(ctx: EdgeContext, connection: Connection): ConnectionRef {
  return { userId: connection.userId, connectionId: connection.id, node: ctx.nodeId };
}

/**
 * Runs one socket from upgrade to close: authentication (at the handshake, or a first `auth` frame within
 * AUTH_TIMEOUT_MS), the per-user cap, the user channel, `connected`, commands, and cleanup everywhere.
 */
export function startSession(ctx: EdgeContext, ws: WebSocket, socket: Duplex, remoteAddress: string | undefined, identity: Identity | undefined): Connection {
  const connection = new Connection({
    ws,
    socket,
    id: uuidv7(),
    remoteAddress,
    limits: ctx.limits,
    metrics: ctx.metrics,
    clock: ctx.clock,
    onClosing: (closing) => {
      cleanup(ctx, closing);
    },
    onTaskError: (error) => {
      ctx.logger.error({ err: error, connection: connection.id }, "command failed");
    },
  });
  ctx.registry.add(connection);
  ws.on("pong", () => {
    connection.alive = true;
  });
  ws.on("error", (error) => {
    ctx.logger.debug({ err: error, connection: connection.id }, "socket error");
  });

  let buffered: string | undefined;
  ws.on("message", (data, isBinary) => {
    connection.alive = true;
    if (connection.isClosing()) return;
    const text = frameText(data, isBinary);
    if (connection.state === "open") {
      handleOpenFrame(ctx, connection, text);
      return;
    }
    if (connection.state === "authenticating") {
      if (buffered === undefined && text !== undefined && Buffer.byteLength(text) <= BUFFERED_MAX_BYTES) buffered = text;
      else refuseBeforeAuth(connection, text);
      return;
    }
    if (text !== undefined && Buffer.byteLength(text) > PRE_AUTH_MAX_BYTES) {
      connection.close("payload_too_large");
      return;
    }
    const parsed = text === undefined ? undefined : parseClientFrame(text);
    if (parsed?.ok !== true || parsed.frame.type !== "auth") {
      refuseBeforeAuth(connection, text);
      return;
    }
    ctx.metrics.framesReceived.inc({ type: "auth" });
    const frameId = parsed.frame.id;
    connection.state = "authenticating";
    void authenticate(ctx.verifier, parsed.frame.token, ctx.metrics, ctx.logger).then(async (outcome) => {
      if (!outcome.ok) {
        connection.error(frameId, outcome.code, outcome.message);
        connection.close(outcome.code);
        return;
      }
      await establish(ctx, connection, outcome.identity);
      // The auth frame is a command like any other: after `connected`, its id gets its answer.
      if (frameId !== undefined && connection.state === "open") {
        connection.ack(frameId, { user_id: connection.userId, expires_at: new Date(outcome.identity.claims.exp * 1000).toISOString() });
      }
      if (buffered !== undefined && connection.state === "open") handleOpenFrame(ctx, connection, buffered);
      buffered = undefined;
    });
  });

  if (identity !== undefined) {
    void establish(ctx, connection, identity);
  } else {
    connection.after(
      ctx.config.AUTH_TIMEOUT_MS,
      () => {
        if (connection.state !== "awaiting_auth") return;
        ctx.metrics.authFailures.inc({ reason: "timeout" });
        connection.close("auth_timeout");
      },
      ctx.clock,
    );
  }
  return connection;
}

function refuseBeforeAuth(connection: Connection, text: string | undefined): void {
  const parsed = text === undefined ? undefined : parseClientFrame(text);
  connection.error(parsed?.ok === true ? parsed.frame.id : parsed?.id, "unauthorized", "Authenticate first: send {\"type\":\"auth\",\"token\":...} and wait for `connected`.");
  connection.strike();
}

/** Registers the socket cluster-wide (per-user cap), joins the user's channel, then says `connected`. */
async function establish(ctx: EdgeContext, connection: Connection, identity: Identity): Promise<void> {
  connection.identity = identity;
  connection.state = "authenticating";
  const ref = refOf(ctx, connection);
  let count: number | undefined;
  try {
    count = await ctx.presence.register(ref, ctx.config.MAX_CONNECTIONS_PER_USER);
  } catch (error) {
    ctx.logger.error({ err: error }, "presence registration failed");
    connection.close("unavailable");
    return;
  }
  if (count === undefined) {
    connection.close("too_many_connections");
    return;
  }
  connection.registered = true;
  if (connection.isClosing()) {
    // The cleanup ran before the registration landed: undo it here.
    await ctx.presence.unregister(ref).catch(() => undefined);
    return;
  }
  ctx.registry.index(connection);
  trackExpiry(connection, ctx.clock, ctx.config.JWT_CLOCK_TOLERANCE);
  let pos: string;
  try {
    const provisioned = provision(ctx, connection);
    await ctx.delivery.join(connection);
    pos = await latestPos(ctx.redis, ctx.config.REDIS_KEY_PREFIX, connection.userId);
    await provisioned;
  } catch (error) {
    ctx.logger.error({ err: error }, "joining the user channel failed");
    connection.close("unavailable");
    return;
  }
  if (connection.isClosing()) return;
  connection.state = "open";
  connection.events.startAt(pos);
  connection.send({
    type: "connected",
    user_id: connection.userId,
    connection_id: connection.id,
    node: ctx.nodeId,
    heartbeat_ms: ctx.config.HEARTBEAT_MS,
    // Where this client's stream stands: `resume {since: pos}` after a reconnect misses nothing from here on.
    pos,
  });
  connection.after(ctx.initialHoldMs, () => {
    connection.events.releaseInitial();
  });
}

/** How long `connected` waits for the API to provision the user; past it the socket opens anyway. */
const PROVISION_WAIT_MS = 1_000;

/**
 * A connection is a first use of a token too: the API provisions an identity provider's unknown `sub` from its claims
 * (`provision`: over REST GET /v1/users/me), so others can reach a user who has only ever connected. Best effort,
 * bounded; never throws.
 */
async function provision(ctx: EdgeContext, connection: Connection): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const answer = ctx.api.call("provision", callerOf(connection));
  const outcome = await Promise.race([answer, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), PROVISION_WAIT_MS)))]);
  clearTimeout(timer);
  if (outcome !== undefined && !outcome.ok) ctx.logger.warn({ status: outcome.status, code: outcome.error.code }, "the API did not provision the user");
}

/** Runs once per socket when it starts closing: leaves every channel and unregisters it cluster-wide. */
function cleanup(ctx: EdgeContext, connection: Connection): void {
  ctx.registry.remove(connection);
  const identity = connection.identity;
  if (identity === undefined) return;
  const tasks: Promise<unknown>[] = [ctx.delivery.leave(connection), ctx.watchers.unwatchAll(connection)];
  for (const conversationId of connection.subscriptions) tasks.push(ctx.typing.leave(connection, conversationId));
  for (const conversationId of connection.typingIn) tasks.push(ctx.typing.publish(conversationId, identity.userId, false));
  connection.typingIn.clear();
  if (connection.registered) tasks.push(ctx.presence.unregister(refOf(ctx, connection)));
  const work = Promise.allSettled(tasks).then((results) => {
    for (const result of results) {
      if (result.status === "rejected") ctx.logger.warn({ err: result.reason, connection: connection.id }, "cleanup step failed");
    }
  });
  ctx.pendingCleanups.add(work);
  void work.finally(() => ctx.pendingCleanups.delete(work));
}
