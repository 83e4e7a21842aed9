import type { Database, Executor } from "@parley/db";
import type { Clock } from "@parley/config";
import { ParleyError, type AuditEntry, type AuditQuery, type Page } from "@parley/protocol";
import type { AuditRepository, AuditRow } from "../repositories/audit-repository";
import type { Actor } from "./actor";
import { newestFirstPage, pageOf } from "./page-cursor";
import { SERVICE_ROLE, type Policy } from "./policy";
import { ADMIN_ROLE } from "./relationship-service";

export interface AuditServiceDeps {
  readonly database: Database;
  readonly audit: AuditRepository;
  readonly policy: Policy;
  readonly clock: Clock;
  readonly newId: () => string;
}

export interface AuditRecord {
  readonly action: string;
  readonly targetType?: string | undefined;
  readonly targetId?: string | undefined;
  readonly details?: Record<string, unknown>;
}


function toEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at.toISOString(),
    actor_id: row.actorId,
    actor_role: row.actorRole,
    action: row.action,
    target_type: row.targetType,
    target_id: row.targetId,
    details: row.details,
  };
}

/** Who did what to whom, when: every moderator, admin and service-token action. Readable by admins only. */
export class AuditService {
  constructor(private readonly deps: AuditServiceDeps) {}

  /** Whether this actor's actions are audited. */
  audits(actor: Actor): boolean {
    return actor.role === SERVICE_ROLE || actor.role === ADMIN_ROLE || this.deps.policy.isModerator(actor.role);
  }

  async record(actor: Actor, record: AuditRecord, executor: Executor = this.deps.database.db): Promise<void> {
    await this.deps.audit.append(executor, {
      id: this.deps.newId(),
      at: this.deps.clock.now(),
      actorId: actor.id,
      actorRole: actor.role,
      action: record.action,
      targetType: record.targetType ?? null,
      targetId: record.targetId ?? null,
      details: record.details ?? {},
    });
  }

  async list(actor: Actor, query: AuditQuery): Promise<Page<AuditEntry>> {
    if (actor.role !== ADMIN_ROLE) throw new ParleyError("forbidden", "Only admins read the audit log.");
    const rows = await this.deps.audit.list(this.deps.database.db, { actorId: query.actor_id, targetId: query.target_id, action: query.action, ...newestFirstPage(query) });
    return pageOf(rows, query.limit, toEntry, (row) => ({ id: row.id }));
  }
}
