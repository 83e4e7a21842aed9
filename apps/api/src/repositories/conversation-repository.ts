import { schema, type Executor } from "@parley/db";
import { and, desc, eq, isNotNull, isNull, or, sql, type SQL } from "drizzle-orm";
import type { MessageRow } from "./message-columns";

export type ConversationRow = typeof schema.conversations.$inferSelect;
export type NewConversationRow = typeof schema.conversations.$inferInsert;

/** Keyset position in a conversation list: last activity in microseconds (timestamptz precision) and id. */
export interface ActivityPosition {
  readonly activityUs: number;
  readonly id: string;
}

export interface ListedConversation {
  readonly conversation: ConversationRow;
  readonly muted: boolean;
  readonly archived: boolean;
  readonly lastMessage: MessageRow | null;
  readonly position: ActivityPosition;
}

const c = schema.conversations;
const p = schema.participants;
const m = schema.messages;
const am = schema.archivedMessages;

// Microseconds since the epoch: a JS Date would drop the microseconds and break the keyset.
const activityUs = sql<number>`(extract(epoch from ${c.lastActivityAt}) * 1000000)::bigint`;

export class ConversationRepository {
  async insert(tx: Executor, row: NewConversationRow): Promise<ConversationRow> {
    const [created] = await tx.insert(c).values(row).returning();
    if (!created) throw new Error("insert returned no row");
    return created;
  }

  /**
   * Inserts a direct conversation unless the pair already has one. A concurrent insert of the same pair waits
   * on the unique index and then does nothing, and the SELECT that follows sees the winner's committed row.
   */
  async insertDirect(tx: Executor, row: NewConversationRow & { directKey: string }): Promise<{ row: ConversationRow; created: boolean }> {
    const [created] = await tx.insert(c).values(row).onConflictDoNothing({ target: c.directKey }).returning();
    if (created) return { row: created, created: true };
    const [existing] = await tx.select().from(c).where(eq(c.directKey, row.directKey)).limit(1);
    if (!existing) throw new Error("direct conversation vanished after a conflict");
    return { row: existing, created: false };
  }

  /**
   * A conversation, optionally locked the way MessageRepository.lockConversation does: every change that writes
   * events of a conversation holds its row, so its outbox rows are inserted in commit order.
   */
  async findById(executor: Executor, id: string, options: { lock?: "no key update" | "share" } = {}): Promise<ConversationRow | undefined> {
    const query = executor.select().from(c).where(eq(c.id, id)).limit(1);
    const [row] = options.lock === undefined ? await query : await query.for(options.lock);
    return row;
  }

  /** The conversation with its last message, wherever that message lives now (live or archived table). */
  async findWithLastMessage(executor: Executor, id: string): Promise<{ conversation: ConversationRow; lastMessage: MessageRow | null } | undefined> {
    const [row] = await executor
      .select({ conversation: c, live: m, archived: am })
      .from(c)
      .leftJoin(m, eq(m.id, c.lastMessageId))
      .leftJoin(am, eq(am.id, c.lastMessageId))
      .where(eq(c.id, id))
      .limit(1);
    return row && { conversation: row.conversation, lastMessage: row.live ?? row.archived };
  }

  /** The user's active conversations, most recent activity first; `archived` picks the archive or the inbox. */
  async listForUser(
    executor: Executor,
    userId: string,
    options: { archived: boolean; includeClosed?: boolean; limit: number; after?: ActivityPosition },
  ): Promise<ListedConversation[]> {
    const isArchived = or(eq(p.archived, true), isNotNull(c.archivedAt));
    const after: SQL | undefined = options.after
      ? sql`(${c.lastActivityAt}, ${c.id}) < (timestamptz 'epoch' + ${options.after.activityUs}::bigint * interval '1 microsecond', ${options.after.id}::uuid)`
      : undefined;
    const rows = await executor
      .select({ conversation: c, muted: p.muted, archived: p.archived, activityUs, live: m, archivedMessage: am })
      .from(p)
      .innerJoin(c, eq(c.id, p.conversationId))
      .leftJoin(m, eq(m.id, c.lastMessageId))
      .leftJoin(am, eq(am.id, c.lastMessageId))
      .where(and(eq(p.userId, userId), isNull(p.leftAt), options.archived ? isArchived : sql`NOT (${isArchived})`, options.includeClosed === false ? isNull(c.closedAt) : undefined, after))
      .orderBy(desc(c.lastActivityAt), desc(c.id))
      .limit(options.limit);
    return rows.map((row) => ({
      conversation: row.conversation,
      muted: row.muted,
      archived: row.archived,
      lastMessage: row.live ?? row.archivedMessage,
      position: { activityUs: row.activityUs, id: row.conversation.id },
    }));
  }
}
