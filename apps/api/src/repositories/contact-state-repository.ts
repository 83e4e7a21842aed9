import { schema, type Executor, type Tx } from "@parley/db";
import { and, eq, inArray, isNull, sql } from "drizzle-orm";

const c = schema.conversations;
const p = schema.participants;

export interface DirectPair {
  readonly conversationId: string;
  readonly userId: string;
  readonly otherId: string;
  readonly closed: boolean;
}

export interface GroupMembership {
  readonly conversationId: string;
  readonly ownerId: string;
  readonly memberId: string;
}

/** The rows that say whether people may still talk: direct conversations' closed state and group ownership. */
export class ContactStateRepository {
  /** Every direct conversation of `userId`, with the other person and whether it is closed. */
  async directPartners(executor: Executor, userId: string): Promise<DirectPair[]> {
    const other = sql`(SELECT ${p.userId} FROM ${p} WHERE ${p.conversationId} = ${c.id} AND ${p.userId} <> ${userId} LIMIT 1)`;
    const rows = await executor
      .select({ conversationId: c.id, closedAt: c.closedAt, otherId: sql<string | null>`${other}` })
      .from(c)
      .innerJoin(p, and(eq(p.conversationId, c.id), eq(p.userId, userId)))
      .where(eq(c.type, "direct"));
    return rows.flatMap((row) => (row.otherId === null ? [] : [{ conversationId: row.conversationId, userId, otherId: row.otherId, closed: row.closedAt !== null }]));
  }

  /** The direct conversation of a pair, locked, when there is one. */
  async directOf(tx: Tx, directKey: string): Promise<{ id: string; closed: boolean } | undefined> {
    const [row] = await tx.select({ id: c.id, closedAt: c.closedAt }).from(c).where(eq(c.directKey, directKey)).for("no key update").limit(1);
    return row && { id: row.id, closed: row.closedAt !== null };
  }

  async setClosed(tx: Tx, conversationId: string, closedAt: Date | null): Promise<void> {
    await tx.update(c).set({ closedAt }).where(eq(c.id, conversationId));
  }

  /** Closes every direct conversation of a user at once (erasure); answers the ids that changed. */
  async closeAllDirect(tx: Tx, userId: string, at: Date): Promise<string[]> {
    const rows = await tx
      .update(c)
      .set({ closedAt: at })
      .where(and(eq(c.type, "direct"), isNull(c.closedAt), inArray(c.id, tx.select({ id: p.conversationId }).from(p).where(eq(p.userId, userId)))))
      .returning({ id: c.id });
    return rows.map((row) => row.id);
  }

  /** Active group memberships where one of `userIds` is the owner or a member (the owner's contacts decide). */
  async groupMemberships(executor: Executor, userIds: readonly string[]): Promise<GroupMembership[]> {
    if (userIds.length === 0) return [];
    const owner = schema.participants;
    const member = sql`member`;
    const rows = await executor.execute<{ conversation_id: string; owner_id: string; member_id: string }>(sql`
      SELECT o.conversation_id, o.user_id AS owner_id, ${member}.user_id AS member_id
      FROM ${owner} o
      JOIN ${c} ON ${c.id} = o.conversation_id AND ${c.type} = 'group'
      JOIN ${p} ${member} ON ${member}.conversation_id = o.conversation_id AND ${member}.left_at IS NULL AND ${member}.user_id <> o.user_id
      WHERE o.role = 'owner' AND o.left_at IS NULL
        AND (o.user_id IN ${userIds} OR ${member}.user_id IN ${userIds})`);
    return [...rows].map((row) => ({ conversationId: row.conversation_id, ownerId: row.owner_id, memberId: row.member_id }));
  }
}

