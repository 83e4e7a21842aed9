import { schema, type Tx } from "@parley/db";
import { eq, sql } from "drizzle-orm";

/** Rows moved per statement: bounded so one restore never holds a huge delete/insert in memory. */
const RESTORE_BATCH = 500;

// The generated `search` column is left out: PostgreSQL recomputes it on insert.
const COLUMNS = sql.raw(
  ["id", "conversation_id", "seq", "sender_id", "type", "content", "client_msg_id", "reply_to", "attachments", "created_at", "edited_at", "deleted_at"]
    .map((name) => `"${name}"`)
    .join(", "),
);

// The sender reused a client_msg_id elsewhere while this message sat in the archive (only live messages are
// unique on it): the old message gives up its key rather than fail the whole restore.
const MOVED_VALUES = sql.raw(`id, conversation_id, seq, sender_id, type, content,
  CASE WHEN EXISTS (SELECT 1 FROM messages live WHERE live.sender_id = moved.sender_id AND live.client_msg_id = moved.client_msg_id)
    THEN NULL ELSE moved.client_msg_id END,
  reply_to, attachments, created_at, edited_at, deleted_at`);

/** Cold storage of conversations archived for idleness (the worker moves rows there; this brings them back). */
export class ArchiveRepository {
  /**
   * Moves every archived message of the conversation back to `messages`, seqs unchanged, and clears
   * conversations.archived_at. Runs in the caller's transaction, which must hold the conversation row lock.
   * `activityAt` counts the restore as activity, so the next archival run does not take the conversation right back.
   * Returns how many messages came back.
   */
  async restore(tx: Tx, conversationId: string, activityAt?: Date): Promise<number> {
    let restored = 0;
    for (;;) {
      const result = await tx.execute(sql`
        WITH moved AS (
          DELETE FROM ${schema.archivedMessages}
          WHERE ${schema.archivedMessages.id} IN (
            SELECT ${schema.archivedMessages.id} FROM ${schema.archivedMessages}
            WHERE ${schema.archivedMessages.conversationId} = ${conversationId}
            ORDER BY ${schema.archivedMessages.seq}
            LIMIT ${RESTORE_BATCH})
          RETURNING ${COLUMNS})
        INSERT INTO ${schema.messages} (${COLUMNS})
        SELECT ${MOVED_VALUES} FROM moved`);
      restored += result.count;
      if (result.count < RESTORE_BATCH) break;
    }
    await tx
      .update(schema.conversations)
      .set({ archivedAt: null, ...(activityAt === undefined ? {} : { lastActivityAt: activityAt }) })
      .where(eq(schema.conversations.id, conversationId));
    return restored;
  }
}
