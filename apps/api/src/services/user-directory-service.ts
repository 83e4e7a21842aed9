import type { Database, Executor } from "@parley/db";
import { ParleyError, text, type Page, type PublicUser } from "@parley/protocol";
import { z } from "zod";
import type { UserRow } from "../repositories/user-repository";
import type { ContactFilter, ContactRule, UserDirectoryRepository } from "../repositories/user-directory-repository";
import type { Actor } from "./actor";
import { decodeCursor, pageOf } from "./page-cursor";
import { SERVICE_ROLE, type Policy } from "./policy";
import { toPublicUser } from "./user-view";

export interface UserSearch {
  readonly q: string;
  readonly limit: number;
  readonly cursor?: string | undefined;
}

// A role name no policy can declare: it matches only "*" rules, i.e. roles the policy does not list.
const UNLISTED_ROLE = "\u0000unlisted";

const MAX_DEFAULT_STAFF = 20;

const usernameCursor = z.object({ u: text().max(64) });

export interface UserDirectoryServiceDeps {
  readonly database: Database;
  readonly directory: UserDirectoryRepository;
  readonly policy: Policy;
}

/** Who a caller may contact under the policy, evaluated in SQL so searches paginate over exactly that set. */
export class UserDirectoryService {
  constructor(private readonly deps: UserDirectoryServiceDeps) {}

  async search(actor: Actor, query: UserSearch): Promise<Page<PublicUser>> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, usernameCursor).u;
    const rows = await this.deps.directory.search(this.deps.database.db, this.filterFor(actor), {
      q: query.q,
      limit: query.limit + 1,
      ...(after === undefined ? {} : { afterUsername: after }),
    });
    return pageOf(rows, query.limit, toPublicUser, (row) => ({ u: row.username }));
  }

  /** Which of `ids` are existing users the actor may contact (a service token: every existing user). */
  contactableAmong(actor: Actor, ids: readonly string[], executor: Executor = this.deps.database.db): Promise<Set<string>> {
    return this.deps.directory.contactableAmong(executor, this.filterFor(actor), ids);
  }

  /** Throws forbidden (naming `field`) unless the actor may contact every one of `ids`. */
  async assertContactable(actor: Actor, ids: readonly string[], field: string, executor?: Executor): Promise<void> {
    const allowed = await this.contactableAmong(actor, ids, executor);
    const refused = ids.filter((id) => !allowed.has(id));
    if (refused.length > 0) throw new ParleyError("forbidden", `${field}: the policy does not let you contact ${refused.join(", ")}`, field);
  }

  /** The users with these ids; any unknown one is 404 naming `field`. */
  async requireUsers(ids: readonly string[], field: string, executor: Executor = this.deps.database.db): Promise<Map<string, UserRow>> {
    const rows = new Map((await this.deps.directory.existing(executor, ids)).map((row) => [row.id, row]));
    const missing = ids.filter((id) => !rows.has(id));
    if (missing.length > 0) throw new ParleyError("not_found", `${field}: no user ${missing.join(", ")}`, field);
    return rows;
  }

  /** Everyone holding a support-staff role (but `excludeId`), capped: who answers a support conversation by default. */
  supportStaff(excludeId: string, executor: Executor = this.deps.database.db): Promise<UserRow[]> {
    return this.deps.directory.withRoles(executor, this.deps.policy.supportStaffRoles, { excludeId, limit: MAX_DEFAULT_STAFF });
  }

  /** The policy's contact rules for the actor's role, one per target role (unconditional ones merged). */
  filterFor(actor: Actor): ContactFilter {
    const { policy } = this.deps;
    if (actor.role === SERVICE_ROLE) return { callerId: actor.id, rules: undefined };
    const listed = policy.definition.roles.filter((role) => role !== SERVICE_ROLE);
    const unconditional: string[] = [];
    const rules: ContactRule[] = [];
    for (const role of listed) {
      const requirement = policy.requirement(actor.role, role);
      if (requirement.unconditional) unconditional.push(role);
      else if (requirement.relationships.length > 0) rules.push({ roles: { in: [role] }, requires: requirement.relationships });
    }
    if (unconditional.length > 0) rules.push({ roles: { in: unconditional } });
    const unlisted = policy.requirement(actor.role, UNLISTED_ROLE);
    const others = { notIn: [...listed, SERVICE_ROLE] };
    if (unlisted.unconditional) rules.push({ roles: others });
    else if (unlisted.relationships.length > 0) rules.push({ roles: others, requires: unlisted.relationships });
    return { callerId: actor.id, rules };
  }
}
