import { schema, type Executor } from "@parley/db";
import type { Message } from "@parley/protocol";
import { desc, eq } from "drizzle-orm";
import { newestFirstWhere, type NewestFirstPage } from "./newest-first";

const r = schema.reports;

export type ReportRow = typeof schema.reports.$inferSelect;

export interface NewReport {
  readonly id: string;
  readonly reporterId: string;
  readonly messageId: string | null;
  readonly conversationId: string | null;
  readonly userId: string | null;
  readonly reason: string;
  readonly messageSnapshot: Message | null;
  readonly createdAt: Date;
}

export interface ReportFilter extends NewestFirstPage {
  readonly status?: "open" | "resolved" | undefined;
  readonly userId?: string | undefined;
  readonly conversationId?: string | undefined;
  readonly reporterId?: string | undefined;
}

export class ReportRepository {
  async insert(executor: Executor, report: NewReport): Promise<ReportRow> {
    const [row] = await executor.insert(r).values(report).returning();
    if (!row) throw new Error("insert returned no row");
    return row;
  }

  async find(executor: Executor, id: string, options: { lock?: boolean } = {}): Promise<ReportRow | undefined> {
    const query = executor.select().from(r).where(eq(r.id, id)).limit(1);
    const [row] = options.lock === true ? await query.for("update") : await query;
    return row;
  }

  /** Newest first (ids are UUIDv7). */
  async list(executor: Executor, filter: ReportFilter): Promise<ReportRow[]> {
    const where = newestFirstWhere(r.id, filter.beforeId, [
      [r.status, filter.status],
      [r.userId, filter.userId],
      [r.conversationId, filter.conversationId],
      [r.reporterId, filter.reporterId],
    ]);
    return executor.select().from(r).where(where).orderBy(desc(r.id)).limit(filter.limit);
  }

  async resolve(executor: Executor, id: string, by: string, resolution: string | null, at: Date): Promise<ReportRow | undefined> {
    const [row] = await executor.update(r).set({ status: "resolved", resolvedAt: at, resolvedBy: by, resolution }).where(eq(r.id, id)).returning();
    return row;
  }
}
