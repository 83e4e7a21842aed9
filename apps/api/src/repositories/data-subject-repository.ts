import { schema, tombstoneBatch, type Executor, type TombstoneBatch, type Tx } from "@parley/db";
import { and, asc, eq, gt, isNull, ne, or } from "drizzle-orm";
import { messageColumns, type MessageRow } from "./message-columns";

const m = schema.messages;
const a = schema.archivedMessages;
const p = schema.participants;
const c = schema.conversations;

/** The reads and writes of the data subject's rights (export, erasure), always in bounded pages or batches. */
export class DataSubjectRepository {
  /** The user's conversations (memberships, past ones included), by conversation id after a cursor. */
  async memberships(executor: Executor, userId: string, afterId: string | undefined, limit: number) {
    return executor
      .select({
        id: c.id,
        type: c.type,
        title: c.title,
        createdAt: c.createdAt,
        role: p.role,
        joinedAt: p.joinedAt,
        leftAt: p.leftAt,
        muted: p.muted,
        archived: p.archived,
        lastReadSeq: p.lastReadSeq,
      })
      .from(p)
      .innerJoin(c, eq(c.id, p.conversationId))
      .where(and(eq(p.userId, userId), afterId === undefined ? undefined : gt(p.conversationId, afterId)))
      .orderBy(asc(p.conversationId))
      .limit(limit);
  }

  /** A page of the messages the user sent, from live or archive storage, by id (UUIDv7: time order) after a cursor. */
  async sentMessages(executor: Executor, userId: string, storage: "hot" | "archived", afterId: string | undefined, limit: number): Promise<MessageRow[]> {
    const t = storage === "hot" ? m : a;
    return executor
      .select(messageColumns(t))
      .from(t)
      .where(and(eq(t.senderId, userId), afterId === undefined ? undefined : gt(t.id, afterId)))
      .orderBy(asc(t.id))
      .limit(limit);
  }

  /**
   * Turns up to `limit` of the user's sent messages into tombstones under their conversations' row locks and takes
   * them out of the unread counters; answers how many, and the counters that changed.
   */
  async tombstoneSent(tx: Tx, userId: string, storage: "hot" | "archived", at: Date, limit: number): Promise<TombstoneBatch> {
    const t = storage === "hot" ? m : a;
    return tombstoneBatch(tx, storage, eq(t.senderId, userId), limit, at);
  }

  /** Everything about the user that is not needed to keep others' histories whole. */
  async forget(tx: Tx, userId: string): Promise<void> {
    await tx.delete(schema.emailLog).where(eq(schema.emailLog.userId, userId));
    await tx.delete(schema.emailConfirmations).where(eq(schema.emailConfirmations.userId, userId));
    await tx.delete(schema.blocks).where(or(eq(schema.blocks.blockerId, userId), eq(schema.blocks.blockedId, userId)));
    await tx.delete(schema.relationships).where(or(eq(schema.relationships.userId, userId), eq(schema.relationships.otherUserId, userId)));
  }

  /** Group and support conversations the user is still in (the erased user leaves them; direct ones close). */
  async activeGroups(executor: Executor, userId: string): Promise<{ conversationId: string; role: string }[]> {
    return executor
      .select({ conversationId: p.conversationId, role: p.role })
      .from(p)
      .innerJoin(c, eq(c.id, p.conversationId))
      .where(and(eq(p.userId, userId), isNull(p.leftAt), ne(c.type, "direct")));
  }
}
