import { schema, type Database } from "@parley/db";
import type { Logger } from "@parley/observability";
import { conversationEvent, toWireConversation, type Conversation, type ConversationEvent } from "@parley/protocol";
import { and, asc, eq, gt, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Clock } from "@parley/config";
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
  /** Conversations marked per transaction (and listed per query when finishing interrupted moves). */
  readonly markBatch?: number;
  /** Conversations one run marks or finishes moving at most; the next run continues (default 1,000). */
  readonly maxPerRun?: number;
}

export interface ArchiveRunResult {
  /** Conversations this run marked archived. */
  readonly archived: number;
  /** Messages this run moved to archive storage (including those of earlier, interrupted runs). */
  readonly moved: number;
  /** The run stopped at its cap (work may be left): the next run continues. */
  readonly capped: boolean;
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
 * A run first finishes moves left by earlier runs, then marks and moves one batch at a time, and stops after
 * `maxPerRun` conversations: memory and run time stay bounded however many conversations went idle at once.
 */
export class Archiver {
  private readonly moveBatch: number;
  private readonly markBatch: number;
  private readonly maxPerRun: number;

  constructor(private readonly options: ArchiverOptions) {
    this.moveBatch = options.moveBatch ?? 500;
    this.markBatch = options.markBatch ?? 100;
    this.maxPerRun = options.maxPerRun ?? 1_000;
  }

  async run(now: Date = this.options.clock.now()): Promise<ArchiveRunResult> {
    const cutoff = new Date(now.getTime() - this.options.archiveAfterMs);
    let budget = this.maxPerRun;
    let moved = 0;
    let capped = false;
    // Leftovers of interrupted runs first, a page at a time (keyset: a conversation another node holds is passed).
    let after: string | undefined;
    while (budget > 0) {
      const limit = Math.min(this.markBatch, budget);
      const page = await this.conversationsToMove(limit, after);
      for (const id of page) moved += await this.moveMessages(id);
      budget -= page.length;
      after = page.at(-1);
      if (page.length < limit) break;
      capped = budget === 0;
    }
    let archived = 0;
    while (budget > 0) {
      const limit = Math.min(this.markBatch, budget);
      const marked = await this.markIdle(cutoff, now, limit);
      archived += marked.length;
      budget -= marked.length;
      // Moved right away: a run never holds more than one batch of marked, unmoved conversations.
      for (const id of marked) moved += await this.moveMessages(id);
      if (marked.length < limit) break;
      capped = budget === 0;
    }
    if (archived > 0 || moved > 0) this.options.logger.info({ archived, moved, capped, cutoff: cutoff.toISOString() }, "idle conversations archived");
    return { archived, moved, capped };
  }

  /** Marks up to `limit` idle conversations archived and records their events in one transaction; returns their ids. */
  async markIdle(cutoff: Date, now: Date, limit: number = this.markBatch): Promise<string[]> {
    const ids = await this.options.database.db.transaction(async (tx) => {
      const idle = await tx
        .select({ id: c.id })
        .from(c)
        .where(and(isNull(c.archivedAt), lt(c.lastActivityAt, cutoff)))
        .orderBy(asc(c.lastActivityAt))
        .limit(limit)
        .for("no key update", { skipLocked: true });
      if (idle.length === 0) return [];
      const rows = await tx
        .update(c)
        .set({ archivedAt: now })
        .where(inArray(
          c.id,
          idle.map((row) => row.id),
        ))
        .returning();
      const events = await this.updatedEvents(tx, rows);
      // conversation_id: the API's send batches check it to keep each conversation's events in commit order.
      if (events.length > 0) await tx.insert(schema.outbox).values(events.map(({ recipients, event }) => ({ recipients, event, conversationId: event.type === "conversation_updated" ? event.conversation.id : event.conversation_id })));
      return rows.map((row) => row.id);
    });
    this.options.metrics.conversationsArchived.inc(ids.length);
    return ids;
  }

  /**
   * Up to `limit` archived conversations with messages still in the hot table (left by an interrupted run, or
   * just marked by another node), by id after `after`: paging by id passes one another node holds right now.
   */
  async conversationsToMove(limit: number, after?: string): Promise<string[]> {
    const rows = await this.options.database.db
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
