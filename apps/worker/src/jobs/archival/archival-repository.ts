import { insertOutboxEvents, schema, type Executor, type OutboxEvent, type Tx } from "@parley/db";
import { and, asc, eq, gt, inArray, isNull, lt, sql } from "drizzle-orm";

export type ConversationRow = typeof schema.conversations.$inferSelect;
export type MessageRow = typeof schema.messages.$inferSelect;

/** An active participant of a conversation being archived, with what their `conversation_updated` shows. */
export type ArchivedMember = Readonly<Pick<typeof schema.participants.$inferSelect, "conversationId" | "userId" | "muted"> & { unread: number }>;

const c = schema.conversations;
const p = schema.participants;
const m = schema.messages;
const am = schema.archivedMessages;

// Explicit columns: `search` is generated, so it is recomputed on insert rather than copied.
const MESSAGE_COLUMNS = sql.raw(
  ["id", "conversation_id", "seq", "sender_id", "type", "content", "client_msg_id", "reply_to", "attachments", "created_at", "edited_at", "deleted_at"]
    .map((name) => `"${name}"`)
    .join(", "),
);

/** Every query of the archival job: marking idle conversations archived and moving their messages to cold storage. */
export class ArchivalRepository {
  /** Up to `limit` conversations idle since before `cutoff`, least recently active first, locked (others skipped). */
  async lockIdle(tx: Tx, cutoff: Date, limit: number): Promise<string[]> {
    const rows = await tx
      .select({ id: c.id })
      .from(c)
      .where(and(isNull(c.archivedAt), lt(c.lastActivityAt, cutoff)))
      .orderBy(asc(c.lastActivityAt))
      .limit(limit)
      .for("no key update", { skipLocked: true });
    return rows.map((row) => row.id);
  }

  async markArchived(tx: Tx, ids: readonly string[], at: Date): Promise<ConversationRow[]> {
    return tx.update(c).set({ archivedAt: at }).where(inArray(c.id, [...ids])).returning();
  }

  /** The conversations' active participants, each with their unread count over the hot table. */
  async activeMembers(tx: Tx, conversationIds: readonly string[]): Promise<ArchivedMember[]> {
    return tx
      .select({
        conversationId: p.conversationId,
        userId: p.userId,
        muted: p.muted,
        unread: sql<number>`(
          SELECT count(*)::int FROM ${m}
          WHERE ${m.conversationId} = ${p.conversationId} AND ${m.seq} > ${p.lastReadSeq} AND ${m.deletedAt} IS NULL
            AND (${m.senderId} IS NULL OR ${m.senderId} <> ${p.userId}))`,
      })
      .from(p)
      .where(and(inArray(p.conversationId, [...conversationIds]), isNull(p.leftAt)));
  }

  /** Messages of the hot table by id (unarchived conversations keep all of theirs there). */
  async hotMessages(tx: Tx, ids: readonly string[]): Promise<MessageRow[]> {
    return ids.length === 0 ? [] : tx.select().from(m).where(inArray(m.id, [...ids]));
  }

  /** Records the events in the outbox, in the caller's transaction (the API's relay publishes them). */
  async recordEvents(tx: Tx, events: readonly OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    await insertOutboxEvents(tx, events);
  }

  /**
   * Up to `limit` archived conversations with messages still in the hot table, by id after `after` (keyset: a
   * conversation another node holds right now is passed).
   */
  async conversationsToMove(db: Executor, limit: number, after?: string): Promise<string[]> {
    const rows = await db
      .select({ id: c.id })
      .from(c)
      .where(
        and(
          sql`${c.archivedAt} IS NOT NULL`,
          sql`EXISTS (SELECT 1 FROM ${m} WHERE ${m.conversationId} = ${c.id})`,
          after === undefined ? undefined : gt(c.id, after),
        ),
      )
      .orderBy(asc(c.id))
      .limit(limit);
    return rows.map((row) => row.id);
  }

  /** Locks the conversation's row if it is still archived and no other node holds it. */
  async lockArchived(tx: Tx, conversationId: string): Promise<boolean> {
    const [locked] = await tx
      .select({ id: c.id })
      .from(c)
      .where(and(eq(c.id, conversationId), sql`${c.archivedAt} IS NOT NULL`))
      .for("no key update", { skipLocked: true });
    return locked !== undefined;
  }

  /** Moves the conversation's first `limit` hot messages (by seq) to archived_messages; returns how many moved. */
  async moveMessages(tx: Tx, conversationId: string, limit: number): Promise<number> {
    const result = await tx.execute(sql`
      WITH moved AS (
        DELETE FROM ${m}
        WHERE ${m.id} IN (
          SELECT ${m.id} FROM ${m} WHERE ${m.conversationId} = ${conversationId} ORDER BY ${m.seq} LIMIT ${limit})
        RETURNING ${MESSAGE_COLUMNS})
      INSERT INTO ${am} (${MESSAGE_COLUMNS})
      SELECT ${MESSAGE_COLUMNS} FROM moved`);
    return result.count;
  }
}
