import type { UnreadChange } from "@parley/protocol";
import { Param, sql, type SQL } from "drizzle-orm";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { archivedMessages, conversations, messages, participants } from "./schema";
import type * as schema from "./schema";

type Transaction = Parameters<Parameters<PostgresJsDatabase<typeof schema>["transaction"]>[0]>[0];

/**
 * What participants.unread_count counts, as a recount: messages (live or archived) after the participant's
 * last_read_seq, not sent by them, not deleted. The API sets counters with it where no cheap delta exists (joining,
 * a read mark moving); tests compare every counter with it.
 */
export const recountOfParticipant = sql<number>`(
  SELECT count(*)::int FROM (
    SELECT "seq", "sender_id", "deleted_at" FROM "messages" WHERE "messages"."conversation_id" = "participants"."conversation_id"
      AND "messages"."seq" > "participants"."last_read_seq"
    UNION ALL
    SELECT "seq", "sender_id", "deleted_at" FROM "archived_messages" WHERE "archived_messages"."conversation_id" = "participants"."conversation_id"
      AND "archived_messages"."seq" > "participants"."last_read_seq"
  ) AS "counted"
  WHERE "counted"."deleted_at" IS NULL AND ("counted"."sender_id" IS NULL OR "counted"."sender_id" <> "participants"."user_id"))`;

/** A participant whose unread count a bulk tombstoning changed, with the new count and their muted-excluded total. */

export interface TombstoneBatch {
  /** Live messages matching the condition that this batch took on (fewer than the limit: none are left). */
  readonly found: number;
  /** Messages this batch turned into tombstones (fewer than `found` when a deletion came first). */
  readonly tombstoned: number;
  readonly unread: UnreadChange[];
}

/**
 * Turns up to `limit` live messages matching `where` (a condition on the table's columns) into tombstones, as a
 * deletion leaves them, and takes them out of the unread counters of whoever had not read them. The conversation
 * rows are locked first, in id order and in the mode the send path uses (`FOR NO KEY UPDATE`), so no send, read
 * mark or deletion of those conversations interleaves and each counter stays equal to its recount. Used by the
 * retention purge (worker) and by erasure (API), one short transaction per batch.
 */
export async function tombstoneBatch(tx: Transaction, storage: "hot" | "archived", where: SQL, limit: number, at: Date): Promise<TombstoneBatch> {
  const t = storage === "hot" ? messages : archivedMessages;
  const candidates = await tx.execute<{ id: string; conversation_id: string }>(
    sql`SELECT ${t.id}, ${t.conversationId} FROM ${t} WHERE ${t.deletedAt} IS NULL AND (${where}) LIMIT ${limit}`,
  );
  if (candidates.length === 0) return { found: 0, tombstoned: 0, unread: [] };
  const conversationIds = [...new Set(candidates.map((row) => row.conversation_id))].sort();
  await tx.execute(sql`SELECT ${conversations.id} FROM ${conversations} WHERE ${conversations.id} = ANY(${new Param(conversationIds)}::uuid[]) ORDER BY ${conversations.id} FOR NO KEY UPDATE`);
  // One statement: the rows it tombstones (re-checked under the locks) are the ones it uncounts.
  const changed = await tx.execute<{ tombstoned: number; conversation_id: string | null; user_id: string | null; unread: number | null }>(sql`
    WITH "gone" AS (
      UPDATE ${t} SET "content" = '', "attachments" = '[]'::jsonb, "deleted_at" = ${at.toISOString()}::timestamptz
      WHERE ${t.id} = ANY(${new Param(candidates.map((row) => row.id))}::uuid[]) AND ${t.deletedAt} IS NULL
      RETURNING "conversation_id", "seq", "sender_id"
    ), "missed" AS (
      SELECT "p"."conversation_id", "p"."user_id", count(*)::int AS "n"
      FROM "gone" JOIN ${participants} "p" ON "p"."conversation_id" = "gone"."conversation_id" AND "p"."left_at" IS NULL
        AND "p"."last_read_seq" < "gone"."seq" AND ("gone"."sender_id" IS NULL OR "gone"."sender_id" <> "p"."user_id")
      GROUP BY "p"."conversation_id", "p"."user_id"
    ), "lowered" AS (
      UPDATE ${participants} SET "unread_count" = GREATEST(${participants.unreadCount} - "missed"."n", 0) FROM "missed"
      WHERE ${participants.conversationId} = "missed"."conversation_id" AND ${participants.userId} = "missed"."user_id"
      RETURNING ${participants.conversationId} AS "conversation_id", ${participants.userId} AS "user_id", ${participants.unreadCount} AS "unread"
    )
    SELECT (SELECT count(*)::int FROM "gone") AS "tombstoned", "lowered"."conversation_id", "lowered"."user_id", "lowered"."unread"
    FROM (SELECT 1) AS "one" LEFT JOIN "lowered" ON true`);
  const tombstoned = changed[0]?.tombstoned ?? 0;
  const lowered = changed.flatMap((row) => (row.conversation_id === null || row.user_id === null || row.unread === null ? [] : [{ conversationId: row.conversation_id, userId: row.user_id, unread: row.unread }]));
  if (lowered.length === 0) return { found: candidates.length, tombstoned, unread: [] };
  const userIds = [...new Set(lowered.map((row) => row.userId))];
  const totals = await tx.execute<{ user_id: string; total: number }>(sql`
    SELECT ${participants.userId} AS "user_id", coalesce(sum(${participants.unreadCount}) FILTER (WHERE NOT ${participants.muted}), 0)::int AS "total"
    FROM ${participants} WHERE ${participants.userId} = ANY(${new Param(userIds)}::text[]) AND ${participants.leftAt} IS NULL
    GROUP BY ${participants.userId}`);
  const totalOf = new Map(totals.map((row) => [row.user_id, row.total]));
  return { found: candidates.length, tombstoned, unread: lowered.map((row) => ({ ...row, total: totalOf.get(row.userId) ?? 0 })) };
}
