import { schema, type Database } from "@parley/db";
import { conversationEvent, type ConversationEvent } from "@parley/protocol";
import { and, asc, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Executor } from "./transaction";

export interface OutboxEntry {
  readonly recipients: readonly string[];
  readonly event: ConversationEvent;
}

export interface PendingEvent {
  readonly id: number;
  readonly recipients: string[];
  readonly event: ConversationEvent;
  readonly createdAt: Date;
}

export class OutboxRepository {
  constructor(private readonly database: Database) {}

  /** Records events in the caller's transaction, so they exist exactly when the change commits. */
  async add(tx: Executor, entries: readonly OutboxEntry[]): Promise<void> {
    const rows = entries.filter((entry) => entry.recipients.length > 0);
    if (rows.length === 0) return;
    await tx.insert(schema.outbox).values(rows.map((entry) => ({ recipients: [...new Set(entry.recipients)], event: entry.event })));
  }

  /** The oldest unpublished events, in commit order per conversation (ids grow under the conversation row lock). */
  async pending(tx: Executor, limit: number): Promise<{ events: PendingEvent[]; invalidIds: number[] }> {
    const rows = await tx
      .select({ id: schema.outbox.id, recipients: schema.outbox.recipients, event: schema.outbox.event, createdAt: schema.outbox.createdAt })
      .from(schema.outbox)
      .where(isNull(schema.outbox.publishedAt))
      .orderBy(asc(schema.outbox.id))
      .limit(limit);
    const events: PendingEvent[] = [];
    const invalidIds: number[] = [];
    for (const row of rows) {
      const parsed = conversationEvent.safeParse(row.event);
      if (parsed.success) events.push({ id: row.id, recipients: row.recipients, event: parsed.data, createdAt: row.createdAt });
      else invalidIds.push(row.id);
    }
    return { events, invalidIds };
  }

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

  /** Deletes published rows older than `before`, in bounded batches. */
  async prunePublished(before: Date, batch = 1000): Promise<number> {
    const result = await this.database.db.execute(sql`
      DELETE FROM ${schema.outbox} WHERE ${schema.outbox.id} IN (
        SELECT ${schema.outbox.id} FROM ${schema.outbox}
        WHERE ${and(lt(schema.outbox.publishedAt, before))}
        LIMIT ${batch})`);
    return result.count;
  }
}
