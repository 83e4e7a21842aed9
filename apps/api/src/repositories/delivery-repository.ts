import { schema } from "@parley/db";
import { and, eq, isNull, lt } from "drizzle-orm";
import type { Executor, Tx } from "./transaction";

const p = schema.participants;
const c = schema.conversations;

/** Delivered marks: how far each participant's devices acknowledged receiving a conversation. */
export class DeliveryRepository {
  /**
   * The conversation's last seq under a share lock (like read marks: events of this transaction follow any send it
   * raced); undefined when it does not exist.
   */
  async lockLastSeq(tx: Tx, conversationId: string): Promise<number | undefined> {
    const [row] = await tx.select({ lastSeq: c.lastSeq }).from(c).where(eq(c.id, conversationId)).for("share");
    return row?.lastSeq;
  }

  /** The caller's delivered mark when they are an active participant; undefined otherwise. */
  async deliveredSeq(ex: Executor, conversationId: string, userId: string): Promise<number | undefined> {
    const [row] = await ex
      .select({ deliveredSeq: p.deliveredSeq })
      .from(p)
      .where(and(eq(p.conversationId, conversationId), eq(p.userId, userId), isNull(p.leftAt)))
      .limit(1);
    return row?.deliveredSeq;
  }

  /** Moves the mark forward only; the new mark, or undefined when it did not move. */
  async advance(tx: Tx, conversationId: string, userId: string, upToSeq: number): Promise<number | undefined> {
    const [row] = await tx
      .update(p)
      .set({ deliveredSeq: upToSeq })
      .where(and(eq(p.conversationId, conversationId), eq(p.userId, userId), isNull(p.leftAt), lt(p.deliveredSeq, upToSeq)))
      .returning({ deliveredSeq: p.deliveredSeq });
    return row?.deliveredSeq;
  }

  async otherParticipantIds(ex: Executor, conversationId: string, userId: string): Promise<string[]> {
    const rows = await ex
      .select({ userId: p.userId })
      .from(p)
      .where(and(eq(p.conversationId, conversationId), isNull(p.leftAt)));
    return rows.map((row) => row.userId).filter((id) => id !== userId);
  }
}
