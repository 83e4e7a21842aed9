import type { EdgeConfig } from "@parley/config";
import type { ClientFrameOf } from "@parley/protocol";
import type { Connection } from "../connection";
import type { EdgeContext } from "../context";
import { fetchHistoryPage, replayHistory, type PageAnswer } from "../delivery/history-replay";
import { resumeFromStream } from "../delivery/stream-replay";
import { replyError } from "./reply";

/** Conversations one socket may have open at once. */
export const MAX_SUBSCRIPTIONS = 200;

/**
 * `subscribe {conversation_id, since_seq?}`: membership checked by the API, then typing signals flow; with since_seq
 * the ack is followed by every message after it (history, as `new_message` frames in seq order), then live events,
 * with the live copies of replayed messages left out.
 */
export async function subscribe(ctx: Pick<EdgeContext, "api" | "blocks" | "membership" | "typing">, connection: Connection, frame: ClientFrameOf<"subscribe">): Promise<void> {
  const conversationId = frame.conversation_id;
  if (!connection.subscriptions.has(conversationId) && connection.subscriptions.size >= MAX_SUBSCRIPTIONS) {
    connection.error(frame.id, "invalid_request", `At most ${MAX_SUBSCRIPTIONS} conversations can be subscribed per connection.`);
    return;
  }
  // The user's own blocks, read alongside the membership check: typing of those users is not delivered here.
  const blocks = ctx.blocks.ensure(connection);
  await connection.events.hold(async () => {
    let first: PageAnswer | undefined;
    if (frame.since_seq === undefined) {
      const member = await ctx.membership.check(connection, conversationId, { fresh: true });
      // A closed conversation may still be opened (history, replay); only typing and writing are refused.
      if (!member.ok && member.error.code !== "conversation_closed") {
        replyError(connection, frame.id, member.error);
        return;
      }
    } else {
      // The history read doubles as the membership check (404 when not a participant).
      first = await fetchHistoryPage(ctx.api, connection, conversationId, frame.since_seq);
      if (!first.ok) {
        replyError(connection, frame.id, first.error);
        return;
      }
    }
    await blocks;
    if (connection.isClosing()) return;
    connection.subscriptions.add(conversationId);
    await ctx.typing.join(connection, conversationId);
    connection.ack(frame.id, { conversation_id: conversationId });
    if (first?.ok !== true || frame.since_seq === undefined) return;
    const replay = await replayHistory(ctx.api, connection, conversationId, first.page);
    // Before the hold ends: live copies of the replayed messages, held or still to come, are left out.
    connection.events.cover(conversationId, Math.max(frame.since_seq, replay.lastSeq));
    if (replay.error) replyError(connection, frame.id, replay.error);
  });
}

export async function unsubscribe(ctx: Pick<EdgeContext, "typing">, connection: Connection, frame: ClientFrameOf<"unsubscribe">): Promise<void> {
  connection.subscriptions.delete(frame.conversation_id);
  await ctx.typing.leave(connection, frame.conversation_id);
  connection.ack(frame.id, { conversation_id: frame.conversation_id });
}

export type ResumeDeps = Pick<EdgeContext, "redis" | "logger"> & { readonly config: Pick<EdgeConfig, "REDIS_KEY_PREFIX"> };

/** `resume {since}`: the user's stream after `since`, then live, nothing lost or doubled. */
export async function resume(ctx: ResumeDeps, connection: Connection, frame: ClientFrameOf<"resume">): Promise<void> {
  await resumeFromStream(ctx.redis, ctx.config.REDIS_KEY_PREFIX, connection, frame.since, frame.id, { logger: ctx.logger });
}
