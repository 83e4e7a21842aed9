import { schema, type Executor } from "@parley/db";
import { and, asc, eq, inArray, isNotNull, isNull, ne, sql } from "drizzle-orm";

export type ParticipantRow = typeof schema.participants.$inferSelect;
export type ParticipantRole = ParticipantRow["role"];

/** An active participant with the user fields a conversation view shows. */
export interface ParticipantWithUser {
  readonly conversationId: string;
  readonly userId: string;
  readonly role: ParticipantRole;
  readonly joinedAt: Date;
  readonly displayName: string;
  readonly userRole: string;
  readonly lastReadSeq: number;
  readonly deliveredSeq: number;
}

/** What differs per participant in a conversation view. */
export interface ParticipantState {
  readonly userId: string;
  readonly muted: boolean;
  readonly archived: boolean;
  readonly active: boolean;
  readonly unread: number;
}

const p = schema.participants;
const u = schema.users;
const b = schema.blocks;

export class ParticipantRepository {
  async insertMany(tx: Executor, conversationId: string, members: readonly { userId: string; role: ParticipantRole }[], joinedAt: Date): Promise<void> {
    if (members.length === 0) return;
    await tx.insert(p).values(members.map((member) => ({ conversationId, userId: member.userId, role: member.role, joinedAt })));
  }

  /** Adds members; someone who left comes back (left_at cleared, new role and join time); active members stay as they are. */
  async addOrRejoin(tx: Executor, conversationId: string, userIds: readonly string[], role: ParticipantRole, joinedAt: Date): Promise<void> {
    if (userIds.length === 0) return;
    await tx
      .insert(p)
      .values(userIds.map((userId) => ({ conversationId, userId, role, joinedAt })))
      .onConflictDoUpdate({
        target: [p.conversationId, p.userId],
        set: { leftAt: null, role, joinedAt },
        setWhere: isNotNull(p.leftAt),
      });
  }

  async findActive(executor: Executor, conversationId: string, userId: string): Promise<ParticipantRow | undefined> {
    const [row] = await executor
      .select()
      .from(p)
      .where(and(eq(p.conversationId, conversationId), eq(p.userId, userId), isNull(p.leftAt)))
      .limit(1);
    return row;
  }

  async activeUserIds(executor: Executor, conversationId: string): Promise<string[]> {
    const rows = await executor
      .select({ userId: p.userId })
      .from(p)
      .where(and(eq(p.conversationId, conversationId), isNull(p.leftAt)));
    return rows.map((row) => row.userId);
  }

  /** Active participants of these conversations with their names, oldest member first. */
  async listActive(executor: Executor, conversationIds: readonly string[]): Promise<ParticipantWithUser[]> {
    if (conversationIds.length === 0) return [];
    return executor
      .select({
        conversationId: p.conversationId,
        userId: p.userId,
        role: p.role,
        joinedAt: p.joinedAt,
        displayName: u.displayName,
        userRole: u.role,
        lastReadSeq: p.lastReadSeq,
        deliveredSeq: p.deliveredSeq,
      })
      .from(p)
      .innerJoin(u, eq(u.id, p.userId))
      .where(and(inArray(p.conversationId, [...conversationIds]), isNull(p.leftAt)))
      .orderBy(asc(p.joinedAt), asc(p.userId));
  }

  /**
   * Flags and unread count of each listed user in one conversation (left ones included, with unread 0).
   * Unread is the maintained counter (see RecipientUnreadRepository).
   */
  async states(executor: Executor, conversationId: string, userIds: readonly string[]): Promise<ParticipantState[]> {
    if (userIds.length === 0) return [];
    const rows = await executor
      .select({
        userId: p.userId,
        muted: p.muted,
        archived: p.archived,
        active: sql<boolean>`${p.leftAt} IS NULL`,
        unread: sql<number>`CASE WHEN ${p.leftAt} IS NOT NULL THEN 0 ELSE ${p.unreadCount} END`,
      })
      .from(p)
      .where(and(eq(p.conversationId, conversationId), inArray(p.userId, [...userIds])));
    return rows;
  }

  async updateSettings(
    executor: Executor,
    conversationId: string,
    userId: string,
    changes: { muted?: boolean; archived?: boolean },
  ): Promise<ParticipantRow | undefined> {
    const [row] = await executor
      .update(p)
      .set(changes)
      .where(and(eq(p.conversationId, conversationId), eq(p.userId, userId), isNull(p.leftAt)))
      .returning();
    return row;
  }

  async markLeft(tx: Executor, conversationId: string, userId: string, at: Date): Promise<boolean> {
    const rows = await tx
      .update(p)
      .set({ leftAt: at, unreadCount: 0 })
      .where(and(eq(p.conversationId, conversationId), eq(p.userId, userId), isNull(p.leftAt)))
      .returning({ userId: p.userId });
    return rows.length > 0;
  }

  /** Hands ownership to the longest-standing admin, else the longest-standing member; returns who got it. */
  async promoteNextOwner(tx: Executor, conversationId: string): Promise<string | undefined> {
    const [next] = await tx
      .select({ userId: p.userId })
      .from(p)
      .where(and(eq(p.conversationId, conversationId), isNull(p.leftAt)))
      .orderBy(sql`CASE ${p.role} WHEN 'admin' THEN 0 ELSE 1 END`, asc(p.joinedAt), asc(p.userId))
      .limit(1);
    if (!next) return undefined;
    await tx
      .update(p)
      .set({ role: "owner" })
      .where(and(eq(p.conversationId, conversationId), eq(p.userId, next.userId)));
    return next.userId;
  }

  /** Users who share an active conversation with `userId` (both still in it), optionally only among `among`. */
  async coParticipants(executor: Executor, userId: string, options: { among?: readonly string[]; limit: number }): Promise<string[]> {
    if (options.among?.length === 0) return [];
    const mine = executor
      .select({ conversationId: p.conversationId })
      .from(p)
      .where(and(eq(p.userId, userId), isNull(p.leftAt)));
    const rows = await executor
      .selectDistinct({ userId: p.userId })
      .from(p)
      .where(
        and(
          inArray(p.conversationId, mine),
          isNull(p.leftAt),
          ne(p.userId, userId),
          options.among === undefined ? undefined : inArray(p.userId, [...options.among]),
          // A block, either way, hides presence both ways even inside a shared group.
          sql`NOT EXISTS (SELECT 1 FROM ${b} WHERE (${b.blockerId} = ${userId} AND ${b.blockedId} = ${p.userId}) OR (${b.blockerId} = ${p.userId} AND ${b.blockedId} = ${userId}))`,
        ),
      )
      .orderBy(asc(p.userId))
      .limit(options.limit);
    return rows.map((row) => row.userId);
  }
}
