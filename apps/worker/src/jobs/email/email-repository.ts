import { schema, type Database, type EmailLogStatus } from "@parley/db";
import { and, desc, eq, gte, isNull, lte, ne, or, sql } from "drizzle-orm";
import type { MessagePreview } from "./email-composer";

/** A range of messages claimed for one e-mail: recorded in email_log and in participants.notified_seq together. */
export interface NotificationClaim {
  /** The email_log row that proves the claim committed; also names the e-mail (Message-ID). */
  readonly log_id: string;
  readonly from_seq: number;
  readonly to_seq: number;
  /** notified_seq before the claim, so a claim that is given up can be handed back. */
  readonly previous_notified_seq: number;
}

export interface RecipientState {
  readonly email: string | null;
  /** The address was confirmed (link or identity provider); EMAIL_CONFIRMATION=required mails only those. */
  readonly emailConfirmed: boolean;
  readonly emailNotifications: boolean;
  readonly displayName: string;
  readonly muted: boolean;
  readonly active: boolean;
  readonly lastReadSeq: number;
  readonly notifiedSeq: number;
  readonly conversation: {
    readonly id: string;
    readonly type: "direct" | "group" | "support";
    readonly title: string | null;
    readonly archived: boolean;
  };
}

export interface RangeSummary {
  readonly count: number;
  readonly senders: string[];
  readonly previews: MessagePreview[];
}

const p = schema.participants;
const u = schema.users;
const c = schema.conversations;
const m = schema.messages;
const log = schema.emailLog;

/** Messages whose sender the recipient blocked are never mailed about. */
function notBlockedBy(userId: string) {
  const b = schema.blocks;
  return sql`NOT EXISTS (SELECT 1 FROM ${b} WHERE ${b.blockerId} = ${userId} AND ${b.blockedId} = ${m.senderId})`;
}

/** Shown for messages without a sender (system messages posted by an integration). */
const SYSTEM_SENDER = "System";

/** email_log.last_error keeps the start of an SMTP error, enough to diagnose it. */
const MAX_ERROR_CHARS = 1000;

/** Everything the e-mail job reads and writes in PostgreSQL. */
export class EmailRepository {
  constructor(private readonly database: Database) {}

  async recipientState(userId: string, conversationId: string): Promise<RecipientState | undefined> {
    const [row] = await this.database.db
      .select({
        email: u.email,
        emailConfirmedAt: u.emailConfirmedAt,
        emailNotifications: u.emailNotifications,
        displayName: u.displayName,
        muted: p.muted,
        leftAt: p.leftAt,
        lastReadSeq: p.lastReadSeq,
        notifiedSeq: p.notifiedSeq,
        conversationId: c.id,
        type: c.type,
        title: c.title,
        archivedAt: c.archivedAt,
      })
      .from(p)
      .innerJoin(u, eq(u.id, p.userId))
      .innerJoin(c, eq(c.id, p.conversationId))
      .where(and(eq(p.conversationId, conversationId), eq(p.userId, userId)))
      .limit(1);
    if (!row) return undefined;
    return {
      email: row.email,
      emailConfirmed: row.emailConfirmedAt !== null,
      emailNotifications: row.emailNotifications,
      displayName: row.displayName,
      muted: row.muted,
      active: row.leftAt === null,
      lastReadSeq: row.lastReadSeq,
      notifiedSeq: row.notifiedSeq,
      conversation: { id: row.conversationId, type: row.type, title: row.title, archived: row.archivedAt !== null },
    };
  }

  /** Messages from others after `afterSeq` that are not deleted: how many, and the last one's seq. */
  async unmailedAfter(conversationId: string, userId: string, afterSeq: number): Promise<{ count: number; lastSeq: number }> {
    const [row] = await this.database.db
      .select({ count: sql<number>`count(*)::int`, lastSeq: sql<number>`coalesce(max(${m.seq}), 0)::int` })
      .from(m)
      .where(and(eq(m.conversationId, conversationId), sql`${m.seq} > ${afterSeq}`, isNull(m.deletedAt), or(isNull(m.senderId), ne(m.senderId, userId)), notBlockedBy(userId)));
    return { count: row?.count ?? 0, lastSeq: row?.lastSeq ?? 0 };
  }

  /** The e-mail's content for a claimed range: messages from others still unread (after `lastReadSeq`). */
  async summary(conversationId: string, userId: string, claim: NotificationClaim, lastReadSeq: number, previews: number): Promise<RangeSummary> {
    const where = and(
      eq(m.conversationId, conversationId),
      gte(m.seq, Math.max(claim.from_seq, lastReadSeq + 1)),
      lte(m.seq, claim.to_seq),
      isNull(m.deletedAt),
      or(isNull(m.senderId), ne(m.senderId, userId)),
      notBlockedBy(userId),
    );
    // Inlined, not a parameter: GROUP BY must see the same expression as the select list.
    const sender = sql<string>`coalesce(${u.displayName}, ${sql.raw(`'${SYSTEM_SENDER}'`)})`;
    const [counted, senders, latest] = await Promise.all([
      this.database.db.select({ count: sql<number>`count(*)::int` }).from(m).where(where),
      this.database.db
        .select({ name: sender, last: sql<number>`max(${m.seq})` })
        .from(m)
        .leftJoin(u, eq(u.id, m.senderId))
        .where(where)
        .groupBy(sender)
        .orderBy(desc(sql`max(${m.seq})`))
        .limit(10),
      this.database.db
        .select({ sender, type: m.type, content: m.content, attachments: sql<number>`jsonb_array_length(${m.attachments})::int`, createdAt: m.createdAt })
        .from(m)
        .leftJoin(u, eq(u.id, m.senderId))
        .where(where)
        .orderBy(desc(m.seq))
        .limit(previews),
    ]);
    return { count: counted[0]?.count ?? 0, senders: senders.map((row) => row.name), previews: latest.reverse() };
  }

  /**
   * Claims (from, to] for one e-mail: moves notified_seq forward only if no other job moved it since it was read
   * (compare-and-set), and records the claim (status claimed) in email_log in the same transaction. False when another job won.
   */
  async claim(userId: string, conversationId: string, claim: NotificationClaim, at: Date): Promise<boolean> {
    return this.database.db.transaction(async (tx) => {
      const moved = await tx
        .update(p)
        .set({ notifiedSeq: claim.to_seq })
        .where(and(eq(p.conversationId, conversationId), eq(p.userId, userId), eq(p.notifiedSeq, claim.previous_notified_seq), isNull(p.leftAt)))
        .returning({ notifiedSeq: p.notifiedSeq });
      if (moved.length === 0) return false;
      await tx.insert(log).values({ id: claim.log_id, userId, conversationId, fromSeq: claim.from_seq, toSeq: claim.to_seq, status: "claimed", claimedAt: at });
      return true;
    });
  }

  /** The claim's email_log status, or undefined when it never committed. */
  async claimStatus(logId: string): Promise<EmailLogStatus | undefined> {
    const [row] = await this.database.db.select({ status: log.status }).from(log).where(eq(log.id, logId)).limit(1);
    return row?.status;
  }

  /** Records that the SMTP server accepted the e-mail (counting the attempt that did). */
  async markSent(logId: string, at: Date): Promise<void> {
    await this.database.db
      .update(log)
      .set({ status: "sent", sentAt: at, attempts: sql`${log.attempts} + 1` })
      .where(eq(log.id, logId));
  }

  /** Counts a failed SMTP attempt on a claim that is still pending. */
  async recordFailure(logId: string, error: string): Promise<void> {
    await this.database.db
      .update(log)
      .set({ attempts: sql`${log.attempts} + 1`, lastError: error.slice(0, MAX_ERROR_CHARS) })
      .where(and(eq(log.id, logId), eq(log.status, "claimed")));
  }

  /**
   * Hands a claim back (nothing was mailed): marks its email_log row released (kept for audit) and moves
   * notified_seq back if no later claim moved it on, so the next notification covers these messages. Only the
   * call that moves the row from claimed to released touches notified_seq, so handing back twice is harmless.
   */
  async release(userId: string, conversationId: string, claim: NotificationClaim): Promise<void> {
    await this.database.db.transaction(async (tx) => {
      const released = await tx
        .update(log)
        .set({ status: "released" })
        .where(and(eq(log.id, claim.log_id), eq(log.status, "claimed")))
        .returning({ id: log.id });
      if (released.length === 0) return;
      await tx
        .update(p)
        .set({ notifiedSeq: claim.previous_notified_seq })
        .where(and(eq(p.conversationId, conversationId), eq(p.userId, userId), eq(p.notifiedSeq, claim.to_seq)));
    });
  }
}
