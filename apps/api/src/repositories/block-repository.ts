import { schema, type Executor } from "@parley/db";
import { and, asc, eq, gt, or } from "drizzle-orm";

const b = schema.blocks;

export type BlockRow = typeof schema.blocks.$inferSelect;

export class BlockRepository {
  /** True when the block is new. */
  async insert(executor: Executor, blockerId: string, blockedId: string, at: Date): Promise<boolean> {
    const rows = await executor.insert(b).values({ blockerId, blockedId, createdAt: at }).onConflictDoNothing().returning({ id: b.blockedId });
    return rows.length > 0;
  }

  /** True when a block was removed. */
  async delete(executor: Executor, blockerId: string, blockedId: string): Promise<boolean> {
    const rows = await executor.delete(b).where(and(eq(b.blockerId, blockerId), eq(b.blockedId, blockedId))).returning({ id: b.blockedId });
    return rows.length > 0;
  }

  /** The blocker's blocks in blocked-id order, after a cursor. */
  async listOf(executor: Executor, blockerId: string, options: { afterId?: string; limit: number }): Promise<BlockRow[]> {
    return executor
      .select()
      .from(b)
      .where(and(eq(b.blockerId, blockerId), options.afterId === undefined ? undefined : gt(b.blockedId, options.afterId)))
      .orderBy(asc(b.blockedId))
      .limit(options.limit);
  }

  /** Whether either of the two blocked the other. */
  async between(executor: Executor, a: string, c: string): Promise<boolean> {
    const [row] = await executor
      .select({ id: b.blockedId })
      .from(b)
      .where(or(and(eq(b.blockerId, a), eq(b.blockedId, c)), and(eq(b.blockerId, c), eq(b.blockedId, a))))
      .limit(1);
    return row !== undefined;
  }
}
