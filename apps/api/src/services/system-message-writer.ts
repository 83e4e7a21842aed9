import type { MessageWriter } from "./message-writer";
import type { AppendSystemMessage } from "./system-messages";

/**
 * The messages side of {@link AppendSystemMessage}: a `system` message without a sender, appended with the
 * next seq and its events in the caller's transaction. The caller kicks the relay after its commit.
 */
export function systemMessageWriter(writer: MessageWriter): AppendSystemMessage {
  return async (tx, conversationId, content) => {
    await writer.append(tx, { conversationId, senderId: null, type: "system", content, clientMsgId: null, replyTo: null, attachments: [] });
  };
}
