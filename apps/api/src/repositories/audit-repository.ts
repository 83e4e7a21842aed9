import { schema, type Executor } from "@parley/db";
import { desc } from "drizzle-orm";
import { newestFirstWhere, type NewestFirstPage } from "./newest-first";

const a = schema.auditLog;

export type AuditRow = typeof schema.auditLog.$inferSelect;
export type NewAuditRow = typeof schema.auditLog.$inferInsert;

export interface AuditFilter extends NewestFirstPage {
  readonly actorId?: string | undefined;
  readonly targetId?: string | undefined;
  readonly action?: string | undefined;
}

/** The append-only audit log: inserts and reads only (a trigger refuses updates and deletes). */
export class AuditRepository {
  async append(executor: Executor, row: NewAuditRow): Promise<void> {
    await executor.insert(a).values(row);
  }

  /** Newest first (ids are UUIDv7). */
  async list(executor: Executor, filter: AuditFilter): Promise<AuditRow[]> {
    const where = newestFirstWhere(a.id, filter.beforeId, [
      [a.actorId, filter.actorId],
      [a.targetId, filter.targetId],
      [a.action, filter.action],
    ]);
    return executor.select().from(a).where(where).orderBy(desc(a.id)).limit(filter.limit);
  }
}
