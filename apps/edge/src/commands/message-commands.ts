import type { ClientFrameOf } from "@parley/protocol";
import type { Connection } from "../connection";
import type { EdgeContext } from "../context";
import { replyWith } from "./reply";

const path = (template: string, id: string) => template.replace(":id", encodeURIComponent(id));

function as(connection: Connection) {
  return { token: connection.identity?.token ?? "", clientIp: connection.remoteAddress };
}

/** send_message → POST /v1/conversations/:id/messages with the sender's token; ack data = the stored message. */
export async function sendMessage(ctx: EdgeContext, connection: Connection, frame: ClientFrameOf<"send_message">): Promise<void> {
  const body = {
    client_msg_id: frame.client_msg_id,
    content: frame.content,
    ...(frame.message_type === undefined ? {} : { type: frame.message_type }),
    ...(frame.reply_to === undefined ? {} : { reply_to: frame.reply_to }),
    ...(frame.attachments === undefined ? {} : { attachments: frame.attachments }),
  };
  const answer = await ctx.api.request("POST", path("/v1/conversations/:id/messages", frame.conversation_id), { ...as(connection), body });
  replyWith(connection, frame.id, answer);
  // Sending ends the sender's typing indicator.
  if (answer.ok && connection.typingIn.delete(frame.conversation_id)) {
    ctx.typing.publish(frame.conversation_id, connection.userId, false).catch((error: unknown) => {
      ctx.logger.warn({ err: error }, "typing stop failed");
    });
  }
}

export async function editMessage(ctx: EdgeContext, connection: Connection, frame: ClientFrameOf<"edit_message">): Promise<void> {
  const answer = await ctx.api.request("PATCH", path("/v1/messages/:id", frame.message_id), { ...as(connection), body: { content: frame.content } });
  replyWith(connection, frame.id, answer);
}

export async function deleteMessage(ctx: EdgeContext, connection: Connection, frame: ClientFrameOf<"delete_message">): Promise<void> {
  const answer = await ctx.api.request("DELETE", path("/v1/messages/:id", frame.message_id), as(connection));
  replyWith(connection, frame.id, answer);
}

export async function markRead(ctx: EdgeContext, connection: Connection, frame: ClientFrameOf<"mark_read">): Promise<void> {
  const answer = await ctx.api.request("POST", path("/v1/conversations/:id/read", frame.conversation_id), {
    ...as(connection),
    body: { up_to_seq: frame.up_to_seq },
  });
  replyWith(connection, frame.id, answer);
}
