import { schema } from "@parley/db";
import { and, desc, eq, lt, type SQL } from "drizzle-orm";
import type { Executor } from "./transaction";

const a = schema.auditLog;

export type AuditRow = typeof schema.auditLog.$inferSelect;
export type NewAuditRow = typeof schema.auditLog.$inferInsert;

export interface AuditFilter {
  readonly actorId?: string | undefined;
  readonly targetId?: string | undefined;
  readonly action?: string | undefined;
  /** An id (UUIDv7, so time-ordered) to list entries older than. */
  readonly beforeId?: string | undefined;
  readonly limit: number;
}

/** The append-only audit log: inserts and reads only (a trigger refuses updates and deletes). */
export class AuditRepository {
  async append(executor: Executor, row: NewAuditRow): Promise<void> {
    await executor.insert(a).values(row);
  }

  /** Newest first (ids are UUIDv7). */
  async list(executor: Executor, filter: AuditFilter): Promise<AuditRow[]> {
    const conditions: (SQL | undefined)[] = [
      filter.actorId === undefined ? undefined : eq(a.actorId, filter.actorId),
      filter.targetId === undefined ? undefined : eq(a.targetId, filter.targetId),
      filter.action === undefined ? undefined : eq(a.action, filter.action),
      filter.beforeId === undefined ? undefined : lt(a.id, filter.beforeId),
    ];
    return executor
      .select()
      .from(a)
      .where(and(...conditions))
      .orderBy(desc(a.id))
      .limit(filter.limit);
  }
}
