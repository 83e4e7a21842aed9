import type { ClientFrameOf } from "@parley/protocol";
import type { Connection } from "../connection";
import type { EdgeContext } from "../context";
import { replyError } from "./reply";

/** typing_start / typing_stop: only participants (checked by the API, cached briefly) may signal; nothing is stored; blocks hide it both ways. */
export async function typing(ctx: Pick<EdgeContext, "membership" | "blocks" | "typing">, connection: Connection, frame: ClientFrameOf<"typing_start"> | ClientFrameOf<"typing_stop">): Promise<void> {
  const member = await ctx.membership.check(connection, frame.conversation_id);
  if (!member.ok) {
    replyError(connection, frame.id, member.error);
    return;
  }
  const isTyping = frame.type === "typing_start";
  // Whom the user blocked do not see them type (and, filtered where they are delivered, they do not see those users type).
  const blocked = await ctx.blocks.ensure(connection);
  if (connection.isClosing()) return;
  if (isTyping) connection.typingIn.add(frame.conversation_id);
  else connection.typingIn.delete(frame.conversation_id);
  await ctx.typing.publish(frame.conversation_id, connection.userId, isTyping, blocked);
  connection.ack(frame.id, { conversation_id: frame.conversation_id, is_typing: isTyping });
}
