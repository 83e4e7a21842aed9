import { presenceList, type ClientFrameOf } from "@parley/protocol";
import { callerOf } from "../api-caller";
import type { Connection } from "../connection";
import type { EdgeContext } from "../context";
import { replyError } from "./reply";

export async function setStatus(ctx: Pick<EdgeContext, "presence">, connection: Connection, frame: ClientFrameOf<"set_status">): Promise<void> {
  await ctx.presence.setStatus(connection.userId, frame.status);
  connection.ack(frame.id, { status: frame.status });
}

/**
 * `watch_presence {user_ids}` replaces the socket's watch list with the users the API lets it see
 * (GET /v1/presence); the ack carries their current presence, `presence` frames follow each change.
 */
export async function watchPresence(ctx: Pick<EdgeContext, "api" | "watchers" | "blocks">, connection: Connection, frame: ClientFrameOf<"watch_presence">): Promise<void> {
  const userIds = [...new Set(frame.user_ids)];
  if (userIds.length === 0) {
    await ctx.watchers.watch(connection, []);
    connection.ack(frame.id, { items: [] });
    return;
  }
  const answer = await ctx.api.call("presence", callerOf(connection), { args: { user_ids: userIds.join(",") } });
  if (!answer.ok) {
    replyError(connection, frame.id, answer.error);
    return;
  }
  const visible = presenceList.safeParse(answer.body);
  if (!visible.success) {
    replyError(connection, frame.id, { code: "unavailable", message: "The API answered an unexpected presence list." });
    return;
  }
  if (connection.isClosing()) return;
  // The API answered before a block this edge has heard of since: not watched.
  const items = visible.data.items.filter((presence) => !ctx.blocks.recentlyBlocked(connection.userId, presence.user_id));
  await ctx.watchers.watch(connection, items);
  connection.ack(frame.id, { items });
}
