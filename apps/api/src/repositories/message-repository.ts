import { schema, type Executor, type Tx } from "@parley/db";
import { and, asc, desc, eq, gt, inArray, isNull, lt, sql } from "drizzle-orm";
import { unionAll } from "drizzle-orm/pg-core";
import { messageColumns as columns, type MessageRow, type MessageTable } from "./message-columns";

export type NewMessageRow = typeof schema.messages.$inferInsert;
export type ParticipantRole = (typeof schema.participantRoles)[number];

export interface LockedConversation {
  readonly id: string;
  readonly type: (typeof schema.conversationTypes)[number];
  readonly lastSeq: number;
  readonly archivedAt: Date | null;
  /** A direct conversation whose two people may no longer talk (`conversations.closed_at` set). */
  readonly closed: boolean;
}

export interface HistoryRange {
  readonly beforeSeq?: number | undefined;
  readonly afterSeq?: number | undefined;
  readonly limit: number;
}

const m = schema.messages;
const a = schema.archivedMessages;
const p = schema.participants;
const c = schema.conversations;

/** Messages (live and archived), the conversation row that orders them, and the participant lookups they need. */
export class MessageRepository {
  // ---- participants

  /**
   * The caller's role and the conversation's closed state (read in the one query access checks already make), or
   * undefined when they are not (or no longer) an active participant.
   */
  async activeParticipant(ex: Executor, conversationId: string, userId: string): Promise<{ role: ParticipantRole; closed: boolean } | undefined> {
    const [row] = await ex
      .select({ role: p.role, closedAt: c.closedAt })
      .from(p)
      .innerJoin(c, eq(c.id, p.conversationId))
      .where(and(eq(p.conversationId, conversationId), eq(p.userId, userId), isNull(p.leftAt)))
      .limit(1);
    return row && { role: row.role, closed: row.closedAt !== null };
  }

  // ---- the conversation row

  async conversationExists(ex: Executor, conversationId: string): Promise<boolean> {
    const [row] = await ex.select({ id: c.id }).from(c).where(eq(c.id, conversationId)).limit(1);
    return row !== undefined;
  }

  /**
   * Locks the conversation row. Every change that writes events takes it ("update" excludes other writers,
   * "share" only writers), so a conversation's outbox rows are inserted in commit order.
   */
  async lockConversation(tx: Tx, conversationId: string, mode: "update" | "share"): Promise<LockedConversation | undefined> {
    const [row] = await tx
      .select({ id: c.id, type: c.type, lastSeq: c.lastSeq, archivedAt: c.archivedAt, closedAt: c.closedAt })
      .from(c)
      .where(eq(c.id, conversationId))
      .for(mode === "update" ? "no key update" : "share");
    return row && { id: row.id, type: row.type, lastSeq: row.lastSeq, archivedAt: row.archivedAt, closed: row.closedAt !== null };
  }

  // ---- messages

  /** A message wherever it lives, and whether that is the archive (edits and deletions apply in place). */
  async locate(ex: Executor, id: string): Promise<{ row: MessageRow; archived: boolean } | undefined> {
    const [found] = await unionAll(
      ex.select({ ...columns(m), archived: sql<boolean>`false` }).from(m).where(eq(m.id, id)),
      ex.select({ ...columns(a), archived: sql<boolean>`true` }).from(a).where(eq(a.id, id)),
    ).limit(1);
    if (!found) return undefined;
    const { archived, ...row } = found;
    return { row, archived };
  }

  /** Full rows of these ids, live or archived, in no particular order (search hits). */
  async findMany(ex: Executor, ids: readonly string[]): Promise<MessageRow[]> {
    if (ids.length === 0) return [];
    return unionAll(ex.select(columns(m)).from(m).where(inArray(m.id, [...ids])), ex.select(columns(a)).from(a).where(inArray(a.id, [...ids])));
  }

  /**
   * One page of history in one statement (so a concurrent restore cannot show a row twice or not at all),
   * over live and archived rows, each branch a range scan of its (conversation_id, seq) index.
   * Returns up to `limit + 1` rows in the scan direction: the extra one says there is more.
   */
  async page(ex: Executor, conversationId: string, range: HistoryRange): Promise<MessageRow[]> {
    const forward = range.afterSeq !== undefined;
    const branch = (t: MessageTable) =>
      ex
        .select(columns(t))
        .from(t)
        .where(
          and(
            eq(t.conversationId, conversationId),
            range.beforeSeq === undefined ? undefined : lt(t.seq, range.beforeSeq),
            range.afterSeq === undefined ? undefined : gt(t.seq, range.afterSeq),
          ),
        )
        .orderBy(forward ? asc(t.seq) : desc(t.seq))
        .limit(range.limit + 1);
    return unionAll(branch(m), branch(a))
      .orderBy(forward ? asc(sql`seq`) : desc(sql`seq`))
      .limit(range.limit + 1);
  }

  async updateContent(tx: Tx, id: string, archived: boolean, content: string, at: Date): Promise<MessageRow> {
    const t = archived ? a : m;
    const [row] = await tx.update(t).set({ content, editedAt: at }).where(eq(t.id, id)).returning(columns(t));
    if (!row) throw new Error(`message ${id} vanished under the conversation lock`);
    return row;
  }

  /** Leaves a tombstone: the seq stays, the content and attachments go. */
  async tombstone(tx: Tx, id: string, archived: boolean, at: Date): Promise<MessageRow> {
    const t = archived ? a : m;
    const [row] = await tx.update(t).set({ deletedAt: at, content: "", attachments: [] }).where(eq(t.id, id)).returning(columns(t));
    if (!row) throw new Error(`message ${id} vanished under the conversation lock`);
    return row;
  }
}
