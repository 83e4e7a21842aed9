import type { Database } from "@parley/db";
import { ParleyError, type RelationshipBody } from "@parley/protocol";
import type { RelationshipRepository, RelationshipRow } from "../repositories/relationship-repository";
import type { Actor, Clock } from "./actor";
import { SERVICE_ROLE } from "./policy";

/** The role, besides service tokens, that may manage relationships. */
export const ADMIN_ROLE = "admin";

export interface Relationship {
  readonly user_id: string;
  readonly other_user_id: string;
  readonly kind: string;
  readonly created_at: string;
}

export interface RelationshipServiceDeps {
  readonly database: Database;
  readonly relationships: RelationshipRepository;
  readonly clock: Clock;
}

export function isAdminOrService(actor: Actor): boolean {
  return actor.role === SERVICE_ROLE || actor.role === ADMIN_ROLE;
}

function toRelationship(row: RelationshipRow): Relationship {
  return { user_id: row.userId, other_user_id: row.otherUserId, kind: row.kind, created_at: row.createdAt.toISOString() };
}

/**
 * Links the policy may require (guardian, care, client, like). Written by back-office integrations and admins;
 * the users need not exist yet (an identity provider may provision them later).
 */
export class RelationshipService {
  constructor(private readonly deps: RelationshipServiceDeps) {}

  /** Creates the link, or returns the existing one (`created` false). */
  async link(actor: Actor, body: RelationshipBody): Promise<{ relationship: Relationship; created: boolean }> {
    const key = this.keyOf(actor, body);
    const { row, created } = await this.deps.relationships.insert(this.deps.database.db, key, actor.id, this.deps.clock.now());
    return { relationship: toRelationship(row), created };
  }

  async unlink(actor: Actor, body: RelationshipBody): Promise<void> {
    const deleted = await this.deps.relationships.delete(this.deps.database.db, this.keyOf(actor, body));
    if (!deleted) throw new ParleyError("not_found", "No such relationship.");
  }

  assertMayManage(actor: Actor): void {
    if (!isAdminOrService(actor)) throw new ParleyError("forbidden", "Only service and admin tokens manage relationships.");
  }

  private keyOf(actor: Actor, body: RelationshipBody) {
    this.assertMayManage(actor);
    if (body.user_id === body.other_user_id) throw new ParleyError("invalid_request", "other_user_id: must differ from user_id", "other_user_id");
    return { userId: body.user_id, otherUserId: body.other_user_id, kind: body.kind };
  }
}
