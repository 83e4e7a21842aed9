import type { Database } from "@parley/db";
import type { Clock } from "@parley/config";
import { ParleyError, type RelationshipBody } from "@parley/protocol";
import type { OutboxRelay } from "../events/outbox-relay";
import type { OutboxRepository } from "../repositories/outbox-repository";
import type { RelationshipRepository, RelationshipRow } from "../repositories/relationship-repository";
import type { Actor } from "./actor";
import type { ContactGuard } from "./contact-guard";
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
  readonly outbox: OutboxRepository;
  readonly relay: Pick<OutboxRelay, "kick">;
  readonly guard: ContactGuard;
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
  /** Creates the link, or returns the existing one (`created` false); a closed conversation of the pair reopens. */
  async link(actor: Actor, body: RelationshipBody): Promise<{ relationship: Relationship; created: boolean }> {
    const key = this.keyOf(actor, body);
    const { database, relationships, guard, outbox } = this.deps;
    const outcome = await database.db.transaction(async (tx) => {
      const inserted = await relationships.insert(tx, key, actor.id, this.deps.clock.now());
      if (inserted.created) await outbox.add(tx, await guard.pairsChanged(tx, [[key.userId, key.otherUserId]]));
      return inserted;
    });
    if (outcome.created) this.deps.relay.kick();
    return { relationship: toRelationship(outcome.row), created: outcome.created };
  }

  /** Deletes the link; a direct conversation it allowed closes at once (and group members may leave, per policy). */
  async unlink(actor: Actor, body: RelationshipBody): Promise<void> {
    const key = this.keyOf(actor, body);
    const { database, relationships, guard, outbox } = this.deps;
    await database.db.transaction(async (tx) => {
      if (!(await relationships.delete(tx, key))) throw new ParleyError("not_found", "No such relationship.");
      await outbox.add(tx, await guard.pairsChanged(tx, [[key.userId, key.otherUserId]]));
    });
    this.deps.relay.kick();
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
