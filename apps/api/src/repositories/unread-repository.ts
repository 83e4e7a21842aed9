import { schema } from "@parley/db";
import { and, eq, inArray, isNull, ne, or, sql } from "drizzle-orm";
import type { Executor } from "./transaction";

export interface UnreadCount {
  readonly conversationId: string;
  readonly unread: number;
  readonly muted: boolean;
}

/**
 * Unread = messages after the participant's last_read_seq, not sent by them, not deleted.
 * Served by the (conversation_id, seq) unique index: a range scan per conversation.
 */
export class UnreadRepository {
  /** Per active conversation of the user (all of them, or those listed). */
  async counts(executor: Executor, userId: string, conversationIds?: readonly string[]): Promise<UnreadCount[]> {
    const p = schema.participants;
    const m = schema.messages;
    const rows = await executor
      .select({
        conversationId: p.conversationId,
        muted: p.muted,
        unread: sql<number>`(
          SELECT count(*)::int FROM ${m}
          WHERE ${m.conversationId} = ${p.conversationId}
            AND ${m.seq} > ${p.lastReadSeq}
            AND ${m.deletedAt} IS NULL
            AND ${or(isNull(m.senderId), ne(m.senderId, userId))}
        )`,
      })
      .from(p)
      .where(
        and(
          eq(p.userId, userId),
          isNull(p.leftAt),
          conversationIds === undefined ? undefined : inArray(p.conversationId, [...conversationIds]),
        ),
      );
    return rows;
  }

  async count(executor: Executor, userId: string, conversationId: string): Promise<number> {
    const [row] = await this.counts(executor, userId, [conversationId]);
    return row?.unread ?? 0;
  }

  /** The total pushed in `unread_count` events and /v1/unread: muted conversations are left out. */
  async total(executor: Executor, userId: string): Promise<number> {
    const counts = await this.counts(executor, userId);
    return counts.reduce((sum, c) => sum + (c.muted ? 0 : c.unread), 0);
  }
}
