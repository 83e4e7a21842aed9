import { recountOfParticipant, schema, type Executor, type Tx } from "@parley/db";
import { and, eq, inArray, isNull, lt, ne, sql } from "drizzle-orm";

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

/**
 * Unread state from the maintained counters (participants.unread_count): a conversation's count is a column and a
 * user's total is a sum over their conversations, so neither grows with the backlog. Every write that changes
 * what is unread adjusts the counters in its own transaction, under the conversation row lock.
 */
export class RecipientUnreadRepository {
  /** Each listed user's count in this conversation and their muted-excluded total (active participants only). */
  async forRecipients(ex: Executor, conversationId: string, userIds: readonly string[]): Promise<Map<string, RecipientUnread>> {
    if (userIds.length === 0) return new Map();
    const rows = await ex
      .select({
        userId: p.userId,
        unread: sql<number>`coalesce(sum(${p.unreadCount}) FILTER (WHERE ${eq(p.conversationId, conversationId)}), 0)::int`,
        total: sql<number>`coalesce(sum(${p.unreadCount}) FILTER (WHERE NOT ${p.muted}), 0)::int`,
      })
      .from(p)
      .where(and(inArray(p.userId, [...userIds]), isNull(p.leftAt)))
      .groupBy(p.userId);
    return new Map(rows.map((row) => [row.userId, { unread: row.unread, total: row.total }]));
  }

  /** Each active conversation of the user, or only those listed. */
  async ofUser(ex: Executor, userId: string, conversationIds?: string | readonly string[]): Promise<ConversationUnread[]> {
    const only = conversationIds === undefined ? undefined : typeof conversationIds === "string" ? eq(p.conversationId, conversationIds) : inArray(p.conversationId, [...conversationIds]);
    return ex
      .select({ conversationId: p.conversationId, unread: p.unreadCount, muted: p.muted })
      .from(p)
      .where(and(eq(p.userId, userId), only, isNull(p.leftAt)));
  }

  /**
   * Sets the counters of these users in one conversation from a recount: after a join or rejoin (their read mark
   * may lie anywhere) and after a read mark moved. Runs under the conversation row lock.
   */
  async recount(tx: Tx, conversationId: string, userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    await tx
      .update(p)
      .set({ unreadCount: recountOfParticipant })
      .where(and(eq(p.conversationId, conversationId), inArray(p.userId, [...userIds]), isNull(p.leftAt)));
  }

  /**
   * One unread message fewer for whoever had not read it (its deletion); returns those users. Runs under the
   * conversation row lock, so no read mark moves meanwhile.
   */
  async forgetMessage(tx: Tx, conversationId: string, seq: number, senderId: string | null): Promise<string[]> {
    const rows = await tx
      .update(p)
      .set({ unreadCount: sql`GREATEST(${p.unreadCount} - 1, 0)` })
      .where(and(eq(p.conversationId, conversationId), isNull(p.leftAt), lt(p.lastReadSeq, seq), senderId === null ? undefined : ne(p.userId, senderId)))
      .returning({ userId: p.userId });
    return rows.map((row) => row.userId);
  }
}
