import type { Tx } from "@parley/db";

/**
 * Appends a `system` message (sender null) to a conversation inside the caller's transaction: takes the next
 * seq, moves last_message/last_activity, and records its `new_message` event in the outbox. Membership changes
 * call it so the history shows "Ada added Bob"; the messages service provides the implementation.
 */
export type AppendSystemMessage = (tx: Tx, conversationId: string, content: string) => Promise<void>;
