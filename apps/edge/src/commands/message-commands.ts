import type { ClientFrameOf } from "@parley/protocol";
import { callerOf } from "../api-caller";
import type { Connection } from "../connection";
import type { EdgeContext } from "../context";
import { replyWith } from "./reply";

/** send_message → the API's send (POST /v1/conversations/:id/messages) for the sender; ack data = the stored message. */
export async function sendMessage(ctx: Pick<EdgeContext, "api" | "typing" | "logger">, connection: Connection, frame: ClientFrameOf<"send_message">): Promise<void> {
  const body = {
    client_msg_id: frame.client_msg_id,
    content: frame.content,
    ...(frame.message_type === undefined ? {} : { type: frame.message_type }),
    ...(frame.reply_to === undefined ? {} : { reply_to: frame.reply_to }),
    ...(frame.attachments === undefined ? {} : { attachments: frame.attachments }),
  };
  const answer = await ctx.api.call("send_message", callerOf(connection), { target: frame.conversation_id, args: body });
  replyWith(connection, frame.id, answer);
  // Sending ends the sender's typing indicator.
  if (answer.ok && connection.typingIn.delete(frame.conversation_id)) {
    ctx.typing.publish(frame.conversation_id, connection.userId, false).catch((error: unknown) => {
      ctx.logger.warn({ err: error }, "typing stop failed");
    });
  }
}

export async function editMessage(ctx: Pick<EdgeContext, "api">, connection: Connection, frame: ClientFrameOf<"edit_message">): Promise<void> {
  const answer = await ctx.api.call("edit_message", callerOf(connection), { target: frame.message_id, args: { content: frame.content } });
  replyWith(connection, frame.id, answer);
}

export async function deleteMessage(ctx: Pick<EdgeContext, "api">, connection: Connection, frame: ClientFrameOf<"delete_message">): Promise<void> {
  const answer = await ctx.api.call("delete_message", callerOf(connection), { target: frame.message_id });
  replyWith(connection, frame.id, answer);
}

export async function markRead(ctx: Pick<EdgeContext, "api">, connection: Connection, frame: ClientFrameOf<"mark_read">): Promise<void> {
  const answer = await ctx.api.call("mark_read", callerOf(connection), { target: frame.conversation_id, args: { up_to_seq: frame.up_to_seq } });
  replyWith(connection, frame.id, answer);
}
