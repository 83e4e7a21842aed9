import { schema, toWireConversation, type Database } from "@parley/db";
import type { Logger } from "@parley/observability";
import { conversationEvent, type Conversation, type ConversationEvent } from "@parley/protocol";
import { and, asc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Clock } from "../../clock";
import type { WorkerMetrics } from "../../metrics";

export interface ArchiverOptions {
  readonly database: Database;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: WorkerMetrics;
  /** ARCHIVE_AFTER: conversations idle for longer than this are archived. */
  readonly archiveAfterMs: number;
  /** Messages moved per transaction. */
  readonly moveBatch?: number;
  /** Conversations marked per transaction. */
  readonly markBatch?: number;
}

export interface ArchiveRunResult {
  /** Conversations this run marked archived. */
  readonly archived: number;
  /** Messages this run moved to archive storage (including those of earlier, interrupted runs). */
  readonly moved: number;
}

type Tx = Parameters<Parameters<Database["db"]["transaction"]>[0]>[0];
type ConversationRow = typeof schema.conversations.$inferSelect;

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


/**
 * Archives idle conversations in two restartable steps, each in short transactions:
 * 1. mark: conversations idle past the cutoff get `archived_at`, and `conversation_updated` for every active
 *    participant goes into the outbox in the same transaction (the API's relay publishes it);
 * 2. move: the messages of every archived conversation still in the hot table move to archived_messages in
 *    batches, each under the conversation row lock, so a restore or a new message (which restores) in between
 *    simply stops the move.
 * Rows are taken with `FOR NO KEY UPDATE SKIP LOCKED`, so several archivers never mark or move the same
 * conversation at once, and a crash between batches leaves work that the next run finishes. The API reads
 * history over both tables, so a conversation is readable at every point of the move.
 */
export class Archiver {
  private readonly moveBatch: number;
  private readonly markBatch: number;

  constructor(private readonly options: ArchiverOptions) {
    this.moveBatch = options.moveBatch ?? 500;
    this.markBatch = options.markBatch ?? 100;
  }

  async run(now: Date = this.options.clock.now()): Promise<ArchiveRunResult> {
    const cutoff = new Date(now.getTime() - this.options.archiveAfterMs);
    let archived = 0;
    for (;;) {
      const marked = await this.markIdle(cutoff, now);
      archived += marked;
      if (marked < this.markBatch) break;
    }
    let moved = 0;
    for (const conversationId of await this.conversationsToMove()) moved += await this.moveMessages(conversationId);
    if (archived > 0 || moved > 0) this.options.logger.info({ archived, moved, cutoff: cutoff.toISOString() }, "idle conversations archived");
    return { archived, moved };
  }

  /** Marks up to one batch of idle conversations archived and records their events; returns how many. */
  async markIdle(cutoff: Date, now: Date): Promise<number> {
    const count = await this.options.database.db.transaction(async (tx) => {
      const idle = await tx
        .select({ id: c.id })
        .from(c)
        .where(and(isNull(c.archivedAt), lt(c.lastActivityAt, cutoff)))
        .orderBy(asc(c.lastActivityAt))
        .limit(this.markBatch)
        .for("no key update", { skipLocked: true });
      if (idle.length === 0) return 0;
      const rows = await tx
        .update(c)
        .set({ archivedAt: now })
        .where(inArray(
          c.id,
          idle.map((row) => row.id),
        ))
        .returning();
      const events = await this.updatedEvents(tx, rows);
      if (events.length > 0) await tx.insert(schema.outbox).values(events.map(({ recipients, event }) => ({ recipients, event })));
      return rows.length;
    });
    this.options.metrics.conversationsArchived.inc(count);
    return count;
  }

  /** Archived conversations with messages still in the hot table: just marked, or left by an interrupted run. */
  async conversationsToMove(): Promise<string[]> {
    const rows = await this.options.database.db
      .select({ id: c.id })
      .from(c)
      .where(and(sql`${c.archivedAt} IS NOT NULL`, sql`EXISTS (SELECT 1 FROM ${m} WHERE ${m.conversationId} = ${c.id})`))
      .orderBy(asc(c.archivedAt));
    return rows.map((row) => row.id);
  }

  /** Moves one conversation's hot messages in batches; stops if it was restored or another node holds it. */
  async moveMessages(conversationId: string): Promise<number> {
    let moved = 0;
    for (;;) {
      const batch = await this.options.database.db.transaction(async (tx) => {
        const [locked] = await tx
          .select({ id: c.id })
          .from(c)
          .where(and(eq(c.id, conversationId), sql`${c.archivedAt} IS NOT NULL`))
          .for("no key update", { skipLocked: true });
        if (!locked) return undefined;
        const result = await tx.execute(sql`
          WITH moved AS (
            DELETE FROM ${m}
            WHERE ${m.id} IN (
              SELECT ${m.id} FROM ${m} WHERE ${m.conversationId} = ${conversationId} ORDER BY ${m.seq} LIMIT ${this.moveBatch})
            RETURNING ${MESSAGE_COLUMNS})
          INSERT INTO ${am} (${MESSAGE_COLUMNS})
          SELECT ${MESSAGE_COLUMNS} FROM moved`);
        return result.count;
      });
      if (batch === undefined) break;
      moved += batch;
      if (batch < this.moveBatch) break;
    }
    return moved;
  }

  /** `conversation_updated` for each active participant, with their own unread count and flags. */
  private async updatedEvents(tx: Tx, rows: readonly ConversationRow[]): Promise<{ recipients: string[]; event: ConversationEvent }[]> {
    const ids = rows.map((row) => row.id);
    const members = await tx
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
      .where(and(inArray(p.conversationId, ids), isNull(p.leftAt)));
    const lastIds = rows.flatMap((row) => (row.lastMessageId === null ? [] : [row.lastMessageId]));
    // Unarchived conversations keep every message in the hot table (a restore moves all of them back at once).
    const lastMessages = lastIds.length === 0 ? [] : await tx.select().from(m).where(inArray(m.id, lastIds));
    const lastById = new Map(lastMessages.map((message) => [message.id, message]));

    const groups = new Map<string, { recipients: string[]; event: ConversationEvent }>();
    for (const member of members) {
      const row = rows.find((candidate) => candidate.id === member.conversationId);
      if (!row) continue;
      const last = row.lastMessageId === null ? undefined : lastById.get(row.lastMessageId);
      const conversation: Conversation = toWireConversation(row, { unread: member.unread, muted: member.muted, archived: true }, last ?? null);
      // Validated here: the relay skips (and logs) an event that does not match the protocol.
      const event = conversationEvent.parse({ type: "conversation_updated", conversation });
      const key = JSON.stringify(event);
      const group = groups.get(key);
      if (group) group.recipients.push(member.userId);
      else groups.set(key, { recipients: [member.userId], event });
    }
    return [...groups.values()];
  }
}
