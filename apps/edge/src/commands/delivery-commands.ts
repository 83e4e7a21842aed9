import type { ClientFrameOf } from "@parley/protocol";
import { callerOf } from "../api-caller";
import type { Connection } from "../connection";
import type { EdgeContext } from "../context";
import { replyWith } from "./reply";

/** mark_delivered → POST /v1/conversations/:id/delivered for the user; ack data {conversation_id, delivered_seq}. */
export async function markDelivered(ctx: Pick<EdgeContext, "api">, connection: Connection, frame: ClientFrameOf<"mark_delivered">): Promise<void> {
  const answer = await ctx.api.call("mark_delivered", callerOf(connection), { target: frame.conversation_id, args: { up_to_seq: frame.up_to_seq } });
  replyWith(connection, frame.id, answer);
}
