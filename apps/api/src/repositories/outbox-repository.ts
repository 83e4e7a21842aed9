import type { UnreadCompanion } from "@parley/bus";
import { insertOutboxEvents, schema, type Database, type Executor } from "@parley/db";
import { conversationEvent, type ConversationEvent } from "@parley/protocol";
import { and, asc, inArray, isNull, lt, Param, sql } from "drizzle-orm";
import { z } from "zod";

export interface OutboxEntry {
  readonly recipients: readonly string[];
  readonly event: ConversationEvent;
  /** Recipients' new unread counters about the event's conversation, published as their `unread_count` right after it. */
  readonly unread?: readonly UnreadCompanion[];
}

export interface PendingEvent {
  readonly id: number;
  readonly recipients: string[];
  readonly event: ConversationEvent;
  readonly createdAt: Date;
  readonly unread?: readonly UnreadCompanion[];
}

/** outbox.unread as stored: `[{u: user id, n: unread, t: total}]`, parsed when a sweep reads it back. */
const storedUnread = z
  .array(z.object({ u: z.string().min(1), n: z.number().int().nonnegative(), t: z.number().int().nonnegative() }))
  .nullable();

/** One of `count` partitions of the outbox, by a hash of the conversation id. */
export interface RelayPartition {
  readonly index: number;
  readonly count: number;
}

export class OutboxRepository {
  constructor(private readonly database: Database) {}

  /**
   * Records events in the caller's transaction, so they exist exactly when the change commits; returns them with
   * their ids, in order, so the committer can publish them itself.
   */
  async add(tx: Executor, entries: readonly OutboxEntry[]): Promise<PendingEvent[]> {
    const rows = entries.filter((entry) => entry.recipients.length > 0).map((entry) => ({ ...entry, recipients: [...new Set(entry.recipients)] }));
    const stored = await insertOutboxEvents(tx, rows);
    return rows.map((entry, index) => {
      const row = stored[index];
      if (!row) throw new Error("outbox insert returned fewer rows than it was given");
      return { id: row.id, recipients: entry.recipients, event: entry.event, createdAt: row.createdAt, ...(entry.unread && entry.unread.length > 0 ? { unread: entry.unread } : {}) };
    });
  }

  /**
   * Ids of unpublished events about these conversations (at most `limit`): whether a committer may publish its
   * own events right away, or an earlier one of another writer must go first (then the relay publishes in id order).
   */
  async unpublishedOf(tx: Executor, conversationIds: readonly string[], limit = 100): Promise<number[]> {
    if (conversationIds.length === 0) return [];
    const rows = await tx.execute<{ id: number }>(sql`
      SELECT "id" FROM "outbox" WHERE "published_at" IS NULL AND "conversation_id" = ANY(${new Param([...new Set(conversationIds)])}::uuid[]) LIMIT ${limit}`);
    return rows.map((row) => row.id);
  }

  /**
   * Deletes published events outside any transaction, in one statement that does not wait for the WAL flush: a
   * deletion lost in a crash only republishes events, which the publisher's per-event marker turns into no-ops.
   * Deleted rather than marked: a published row is never read again, and one write per row is cheaper than an
   * update now and a delete later.
   */
  async deletePublishedLazily(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.database.db.execute(sql`
      WITH "mode" AS (SELECT set_config('synchronous_commit', 'off', true))
      DELETE FROM "outbox" USING "mode" WHERE "id" = ANY(${new Param([...ids])}::bigint[])`);
  }

  /** Deletes published events in the sweep's transaction. */
  async deletePublished(tx: Executor, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await tx.execute(sql`DELETE FROM "outbox" WHERE "id" = ANY(${new Param([...ids])}::bigint[])`);
  }

  /**
   * The oldest unpublished events, in commit order per conversation (ids grow under the conversation row lock); with
   * `partition`, only those of the conversations that hash to it (every event of a conversation is in one partition);
   * none of the `skipConversations` (whole conversations, so each one's order holds).
   */
  async pending(tx: Executor, limit: number, partition?: RelayPartition, skipConversations: readonly string[] = []): Promise<{ events: PendingEvent[]; invalidIds: number[] }> {
    const unpublished = isNull(schema.outbox.publishedAt);
    const skipped =
      skipConversations.length === 0
        ? undefined
        : sql`(${schema.outbox.conversationId} IS NULL OR ${schema.outbox.conversationId} <> ALL(${new Param([...skipConversations])}::uuid[]))`;
    const inPartition = partition === undefined ? undefined : sql`${partitionOf(partition.count)} = ${partition.index}`;
    const rows = await tx
      .select({ id: schema.outbox.id, recipients: schema.outbox.recipients, event: schema.outbox.event, createdAt: schema.outbox.createdAt, unread: schema.outbox.unread })
      .from(schema.outbox)
      .where(and(unpublished, inPartition, skipped))
      .orderBy(asc(schema.outbox.id))
      .limit(limit);
    const events: PendingEvent[] = [];
    const invalidIds: number[] = [];
    for (const row of rows) {
      const parsed = conversationEvent.safeParse(row.event);
      const unread = storedUnread.safeParse(row.unread);
      if (!parsed.success || !unread.success) {
        invalidIds.push(row.id);
        continue;
      }
      const companions = unread.data?.map(({ u, n, t }) => ({ userId: u, unread: n, total: t }));
      events.push({ id: row.id, recipients: row.recipients, event: parsed.data, createdAt: row.createdAt, ...(companions ? { unread: companions } : {}) });
    }
    return { events, invalidIds };
  }

  /** Whether any of these conversations has an unpublished event other than the `claimed` ones (another writer's). */
  async hasUnclaimed(tx: Executor, conversationIds: readonly string[], claimed: readonly number[]): Promise<boolean> {
    if (conversationIds.length === 0) return false;
    const rows = await tx.execute<{ one: number }>(sql`
      SELECT 1 AS "one" FROM "outbox" WHERE "published_at" IS NULL AND "conversation_id" = ANY(${new Param([...conversationIds])}::uuid[])
        AND "id" <> ALL(${new Param([...claimed])}::bigint[]) LIMIT 1`);
    return rows.length > 0;
  }

  /** The partitions (of `count`) that have unpublished events: a sweep visits only those. */
  async pendingPartitions(count: number): Promise<number[]> {
    const rows = await this.database.db.execute<{ partition: number }>(sql`
      SELECT DISTINCT ${partitionOf(count)} AS "partition" FROM ${schema.outbox} WHERE ${isNull(schema.outbox.publishedAt)}`);
    return rows.map((row) => row.partition);
  }

  /** Marks rows that can never be published (unparseable): kept for inspection until pruned, out of the queue. */
  async markPublished(tx: Executor, ids: readonly number[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await tx.update(schema.outbox).set({ publishedAt: at }).where(inArray(schema.outbox.id, [...ids]));
  }

  async countUnpublished(): Promise<number> {
    const [row] = await this.database.db
      .select({ count: sql<number>`count(*)::int` })
      .from(schema.outbox)
      .where(isNull(schema.outbox.publishedAt));
    return row?.count ?? 0;
  }

  /** Deletes rows marked published (unparseable ones, or from before published rows were deleted) older than `before`, in bounded batches. */
  async prunePublished(before: Date, batch = 1000): Promise<number> {
    const result = await this.database.db.execute(sql`
      DELETE FROM ${schema.outbox} WHERE ${schema.outbox.id} IN (
        SELECT ${schema.outbox.id} FROM ${schema.outbox}
        WHERE ${and(lt(schema.outbox.publishedAt, before))}
        LIMIT ${batch})`);
    return result.count;
  }
}

/** The partition of an outbox row: a hash of its conversation id (rows without one share a partition). */
function partitionOf(count: number) {
  return sql`((hashtext(coalesce(${schema.outbox.conversationId}::text, '')) & 2147483647) % ${count})::int`;
}
