import type { ClusterStats, PresenceStore } from "@parley/bus";
import type { Database } from "@parley/db";
import { ParleyError, type Presence } from "@parley/protocol";
import type { ParticipantRepository } from "../repositories/participant-repository";
import type { Actor } from "./actor";
import { SERVICE_ROLE } from "./policy";
import { isAdminOrService } from "./relationship-service";
import type { UserDirectoryService } from "./user-directory-service";

/** How many contacts "who of my contacts is online" looks at, so one huge group cannot make it unbounded. */
const MAX_CONTACTS = 2000;

export interface PresenceServiceDeps {
  readonly database: Database;
  readonly store: PresenceStore;
  readonly participants: ParticipantRepository;
  readonly directory: UserDirectoryService;
}

/** Reads the presence the edge nodes write; a caller sees only people they share a conversation with or may contact. */
export class PresenceService {
  constructor(private readonly deps: PresenceServiceDeps) {}

  /** Presence of the visible ones among `userIds` (in the order asked), or, without ids, the caller's online contacts. */
  async presence(actor: Actor, userIds: readonly string[] | undefined): Promise<Presence[]> {
    if (userIds === undefined) return this.onlineContacts(actor);
    const wanted = [...new Set(userIds)];
    const visible = await this.visibleAmong(actor, wanted);
    return this.deps.store.get(wanted.filter((id) => visible.has(id)));
  }

  async stats(actor: Actor): Promise<ClusterStats> {
    if (!isAdminOrService(actor)) throw new ParleyError("forbidden", "Only admin and service tokens read cluster statistics.");
    return this.deps.store.stats();
  }

  private async onlineContacts(actor: Actor): Promise<Presence[]> {
    const contacts = await this.deps.participants.coParticipants(this.deps.database.db, actor.id, { limit: MAX_CONTACTS });
    const all = await this.deps.store.get(contacts);
    return all.filter((p) => p.status !== "offline");
  }

  private async visibleAmong(actor: Actor, ids: readonly string[]): Promise<Set<string>> {
    if (actor.role === SERVICE_ROLE) return new Set(ids);
    const db = this.deps.database.db;
    const shared = await this.deps.participants.coParticipants(db, actor.id, { among: ids, limit: ids.length });
    const rest = ids.filter((id) => !shared.includes(id));
    const contactable = await this.deps.directory.contactableAmong(actor, rest);
    return new Set([...shared, ...contactable]);
  }
}
