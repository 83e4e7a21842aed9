import { schema } from "@parley/db";
import { and, eq, inArray, isNull, ne, sql, type SQL } from "drizzle-orm";
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
const unreadByParticipant = sql`"messages"."conversation_id" = "participants"."conversation_id"
    AND "messages"."seq" > "participants"."last_read_seq"
    AND "messages"."deleted_at" IS NULL
    AND ("messages"."sender_id" IS NULL OR "messages"."sender_id" <> "participants"."user_id")`;

export const unreadOfParticipant = sql<number>`(SELECT count(*)::int FROM "messages" WHERE ${unreadByParticipant})`;

/**
 * Unread counts: messages after the participant's last_read_seq, not sent by them, not deleted. Each
 * conversation is a range scan of the (conversation_id, seq) index; archived messages are not counted.
 * For many users of one conversation it is one statement, so a message to a large group does not run a
 * query per member inside the send transaction.
 */
export class RecipientUnreadRepository {
  async forRecipients(ex: Executor, conversationId: string, userIds: readonly string[]): Promise<Map<string, RecipientUnread>> {
    if (userIds.length === 0) return new Map();
    return this.totals(ex, conversationId, inArray(p.userId, [...userIds]));
  }

  /**
   * The counts every active participant but the sender has once the message taking `seq` is stored. The same
   * whether this runs before or after that row is written (the row is left out of the count and added by rule:
   * it is unread for whoever had not read past `seq`), so it can go out together with the insert. Runs under the
   * conversation row lock, which keeps any other message from taking a seq from `seq` on.
   */
  async withNewMessage(ex: Executor, conversationId: string, seq: number, senderId: string | null): Promise<Map<string, RecipientUnread>> {
    const others = ex
      .select({ userId: p.userId })
      .from(p)
      .where(and(eq(p.conversationId, conversationId), isNull(p.leftAt), senderId === null ? undefined : ne(p.userId, senderId)));
    return this.totals(ex, conversationId, inArray(p.userId, others), { conversationId, seq });
  }

  private async totals(ex: Executor, conversationId: string, recipients: SQL, pending?: { conversationId: string; seq: number }): Promise<Map<string, RecipientUnread>> {
    // A LATERAL count is a column of the row beside it, counted once: as a scalar subquery used by both sums,
    // the planner would run it twice and count every unread message of every recipient twice.
    const counted = ex
      .select({
        unread: (pending === undefined
          ? sql<number>`count(*)::int`
          : sql<number>`count(*)::int + CASE WHEN "participants"."conversation_id" = ${pending.conversationId} AND "participants"."last_read_seq" < ${pending.seq} THEN 1 ELSE 0 END`
        ).as("unread"),
      })
      .from(schema.messages)
      .where(
        pending === undefined
          ? unreadByParticipant
          : sql`${unreadByParticipant} AND ("messages"."conversation_id" <> ${pending.conversationId} OR "messages"."seq" < ${pending.seq})`,
      )
      .as("counted");
    const rows = await ex
      .select({
        userId: p.userId,
        unread: sql<number>`coalesce(sum(${counted.unread}) FILTER (WHERE ${eq(p.conversationId, conversationId)}), 0)::int`,
        total: sql<number>`coalesce(sum(${counted.unread}) FILTER (WHERE NOT ${p.muted}), 0)::int`,
      })
      .from(p)
      .crossJoinLateral(counted)
      .where(and(recipients, isNull(p.leftAt)))
      .groupBy(p.userId);
    return new Map(rows.map((row) => [row.userId, { unread: row.unread, total: row.total }]));
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
