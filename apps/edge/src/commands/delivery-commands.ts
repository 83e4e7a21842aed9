import type { ClientFrameOf } from "@parley/protocol";
import type { Connection } from "../connection";
import type { EdgeContext } from "../context";
import { replyWith } from "./reply";

/** mark_delivered → POST /v1/conversations/:id/delivered with the user's token; ack data {conversation_id, delivered_seq}. */
export async function markDelivered(ctx: EdgeContext, connection: Connection, frame: ClientFrameOf<"mark_delivered">): Promise<void> {
  const answer = await ctx.api.request("POST", `/v1/conversations/${encodeURIComponent(frame.conversation_id)}/delivered`, {
    token: connection.identity?.token ?? "",
    clientIp: connection.remoteAddress,
    body: { up_to_seq: frame.up_to_seq },
  });
  replyWith(connection, frame.id, answer);
}
