import { schema, type Executor } from "@parley/db";
import { and, eq, sql, type SQL } from "drizzle-orm";

export type RelationshipRow = typeof schema.relationships.$inferSelect;

export interface RelationshipKey {
  readonly userId: string;
  readonly otherUserId: string;
  readonly kind: string;
}

const r = schema.relationships;

export class RelationshipRepository {
  /** Links two users; an existing link is returned as it is (`created` false). */
  async insert(executor: Executor, key: RelationshipKey, createdBy: string, at: Date): Promise<{ row: RelationshipRow; created: boolean }> {
    const [created] = await executor
      .insert(r)
      .values({ ...key, createdBy, createdAt: at })
      .onConflictDoNothing({ target: [r.userId, r.otherUserId, r.kind] })
      .returning();
    if (created) return { row: created, created: true };
    const [existing] = await executor.select().from(r).where(matches(key)).limit(1);
    if (!existing) throw new Error("relationship vanished after a conflict");
    return { row: existing, created: false };
  }

  async delete(executor: Executor, key: RelationshipKey): Promise<boolean> {
    const rows = await executor.delete(r).where(matches(key)).returning({ kind: r.kind });
    return rows.length > 0;
  }

  async exists(executor: Executor, key: RelationshipKey): Promise<boolean> {
    const [row] = await executor.select({ kind: r.kind }).from(r).where(matches(key)).limit(1);
    return row !== undefined;
  }

  /**
   * SQL true when a `kind` link joins the caller and the user in `otherId` (a column of the outer query):
   * either direction, or both when `mutual`. Each probe is a primary-key lookup.
   */
  linked(callerId: string, otherId: SQL | typeof schema.users.id, kind: string, mutual: boolean): SQL {
    const forward = sql`EXISTS (SELECT 1 FROM ${r} WHERE ${r.userId} = ${callerId} AND ${r.otherUserId} = ${otherId} AND ${r.kind} = ${kind})`;
    const backward = sql`EXISTS (SELECT 1 FROM ${r} WHERE ${r.userId} = ${otherId} AND ${r.otherUserId} = ${callerId} AND ${r.kind} = ${kind})`;
    return mutual ? sql`(${forward} AND ${backward})` : sql`(${forward} OR ${backward})`;
  }
}

function matches(key: RelationshipKey): SQL | undefined {
  return and(eq(r.userId, key.userId), eq(r.otherUserId, key.otherUserId), eq(r.kind, key.kind));
}
