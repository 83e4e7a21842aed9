import { schema } from "@parley/db";
import { and, eq, inArray, isNull, sql, type SQL } from "drizzle-orm";
import type { Executor } from "./transaction";

export interface RecipientUnread {
  /** Unread messages of the conversation in question. */
  readonly unread: number;
  /** Over all of the user's conversations, muted ones left out. */
  readonly total: number;
}

export interface ConversationUnread {
  readonly conversationId: string;
  readonly unread: number;
  readonly muted: boolean;
}

const p = schema.participants;

// Spelled out with table names: Drizzle renders the columns of a single-table select unqualified, and inside
// this subquery `"conversation_id" = "conversation_id"` would compare the messages column with itself.
export const unreadOfParticipant = sql<number>`(
  SELECT count(*)::int FROM "messages"
  WHERE "messages"."conversation_id" = "participants"."conversation_id"
    AND "messages"."seq" > "participants"."last_read_seq"
    AND "messages"."deleted_at" IS NULL
    AND ("messages"."sender_id" IS NULL OR "messages"."sender_id" <> "participants"."user_id")
)`;

/**
 * Unread counts: messages after the participant's last_read_seq, not sent by them, not deleted. Each
 * conversation is a range scan of the (conversation_id, seq) index; archived messages are not counted.
 * For many users of one conversation it is one statement, so a message to a large group does not run a
 * query per member inside the send transaction.
 */
export class RecipientUnreadRepository {
  async forRecipients(ex: Executor, conversationId: string, userIds: readonly string[]): Promise<Map<string, RecipientUnread>> {
    const out = new Map<string, RecipientUnread>();
    if (userIds.length === 0) return out;
    const perConversation = this.perConversation(ex, inArray(p.userId, [...userIds])).as("per_conversation");
    const rows = await ex
      .select({
        userId: perConversation.userId,
        unread: sql<number>`coalesce(sum(${perConversation.unread}) FILTER (WHERE ${eq(perConversation.conversationId, conversationId)}), 0)::int`,
        total: sql<number>`coalesce(sum(${perConversation.unread}) FILTER (WHERE NOT ${perConversation.muted}), 0)::int`,
      })
      .from(perConversation)
      .groupBy(perConversation.userId);
    for (const row of rows) out.set(row.userId, { unread: row.unread, total: row.total });
    return out;
  }

  /** Each active conversation of the user, or only those listed. */
  async ofUser(ex: Executor, userId: string, conversationIds?: string | readonly string[]): Promise<ConversationUnread[]> {
    const only = conversationIds === undefined ? undefined : typeof conversationIds === "string" ? eq(p.conversationId, conversationIds) : inArray(p.conversationId, [...conversationIds]);
    const rows = await this.perConversation(ex, and(eq(p.userId, userId), only));
    return rows.map((row) => ({ conversationId: row.conversationId, unread: row.unread, muted: row.muted }));
  }

  private perConversation(ex: Executor, where: SQL | undefined) {
    return ex
      .select({ userId: p.userId, conversationId: p.conversationId, muted: p.muted, unread: unreadOfParticipant.as("unread") })
      .from(p)
      .where(and(where, isNull(p.leftAt)));
  }
}
