import { schema, type Executor, type Tx } from "@parley/db";
import { and, eq, isNull, lt } from "drizzle-orm";

const p = schema.participants;
const c = schema.conversations;

/** A participant's two forward-only marks: how far they read (`last_read_seq`), how far their devices acknowledged receiving (`delivered_seq`). */
export type MarkKind = "read" | "delivered";

const COLUMNS = { read: p.lastReadSeq, delivered: p.deliveredSeq } as const;

/** Read and delivered marks, read and moved the same way. */
export class MarkRepository {
  /**
   * The conversation's last seq under a share lock (marks of one conversation move side by side, but their events
   * follow any send they raced); undefined when it does not exist.
   */
  async lockLastSeq(tx: Tx, conversationId: string): Promise<number | undefined> {
    const [row] = await tx.select({ lastSeq: c.lastSeq }).from(c).where(eq(c.id, conversationId)).for("share");
    return row?.lastSeq;
  }

  /** The user's mark when they are an active participant; undefined otherwise. */
  async mark(ex: Executor, kind: MarkKind, conversationId: string, userId: string): Promise<number | undefined> {
    const [row] = await ex
      .select({ seq: COLUMNS[kind] })
      .from(p)
      .where(and(eq(p.conversationId, conversationId), eq(p.userId, userId), isNull(p.leftAt)))
      .limit(1);
    return row?.seq;
  }

  /** Moves the active participant's mark forward only: the new mark, or undefined when it did not move. */
  async advance(tx: Tx, kind: MarkKind, conversationId: string, userId: string, upToSeq: number): Promise<number | undefined> {
    const column = COLUMNS[kind];
    const [row] = await tx
      .update(p)
      .set(kind === "read" ? { lastReadSeq: upToSeq } : { deliveredSeq: upToSeq })
      .where(and(eq(p.conversationId, conversationId), eq(p.userId, userId), isNull(p.leftAt), lt(column, upToSeq)))
      .returning({ seq: column });
    return row?.seq;
  }
}
