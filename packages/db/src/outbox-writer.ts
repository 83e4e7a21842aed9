import type { ConversationEvent } from "@parley/protocol";
import { sql } from "drizzle-orm";
import type { Executor } from "./client";

/** One event for the outbox: who gets it and, for a `new_message`, the recipients' new unread counters riding with it. */
export interface OutboxEvent {
  readonly recipients: readonly string[];
  readonly event: ConversationEvent;
  readonly unread?: readonly { readonly userId: string; readonly unread: number; readonly total: number }[];
}

/** A stored outbox row: its id (commit order within a conversation) and when it was written. */
export interface StoredOutboxRow {
  readonly id: number;
  readonly createdAt: Date;
}

/** The conversation an event is about (outbox.conversation_id: the sweep's partition and the send path's order check). */
export function eventConversationId(event: ConversationEvent): string {
  return event.type === "conversation_updated" ? event.conversation.id : event.conversation_id;
}

/**
 * The one outbox writer of every producer (the API's services, the worker's archiver and purger): records events in
 * the caller's transaction, so they exist exactly when the change commits, and returns their ids in input order.
 * Events without recipients are left out (the returned list then skips them too; callers pass only addressed events
 * when they need the ids). One hand-written statement with the whole list as one JSON parameter: the same prepared
 * statement whatever the number of rows.
 */
export async function insertOutboxEvents(tx: Executor, events: readonly OutboxEvent[]): Promise<StoredOutboxRow[]> {
  const rows = events.filter((entry) => entry.recipients.length > 0);
  if (rows.length === 0) return [];
  const payload = JSON.stringify(
    rows.map((entry) => ({
      r: [...new Set(entry.recipients)],
      e: entry.event,
      c: eventConversationId(entry.event),
      u: entry.unread === undefined || entry.unread.length === 0 ? null : entry.unread.map(({ userId, unread, total }) => ({ u: userId, n: unread, t: total })),
    })),
  );
  const stored = await tx.execute<{ id: number; created_at: Date | string }>(sql`
    INSERT INTO "outbox" ("recipients", "event", "conversation_id", "unread")
    SELECT ARRAY(SELECT jsonb_array_elements_text("t"."row" -> 'r')), "t"."row" -> 'e', ("t"."row" ->> 'c')::uuid, nullif("t"."row" -> 'u', 'null'::jsonb)
    FROM jsonb_array_elements(${payload}::jsonb) WITH ORDINALITY AS "t"("row", "n") ORDER BY "t"."n"
    RETURNING "id", "created_at"`);
  if (stored.length !== rows.length) throw new Error("outbox insert returned fewer rows than it was given");
  // Identity values are taken in insert order (the ORDER BY above), so the sorted ids are the rows' in input order.
  const ids = stored.map((row) => row.id).sort((a, b) => a - b);
  const first = stored[0];
  const createdAt = first === undefined ? new Date() : first.created_at instanceof Date ? first.created_at : new Date(first.created_at);
  return ids.map((id) => ({ id, createdAt }));
}
