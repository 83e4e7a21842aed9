import { schema, type Executor } from "@parley/db";
import { and, asc, gt, inArray, ne, notInArray, or, sql, type SQL } from "drizzle-orm";
import type { RelationshipRepository } from "./relationship-repository";
import type { UserRow } from "./user-repository";

/** One way the caller may reach users: by their role, unconditionally or through one of some links. */
export interface ContactRule {
  /** The target roles it covers: the listed ones, or every role except the listed ones. */
  readonly roles: { readonly in: readonly string[] } | { readonly notIn: readonly string[] };
  /** Absent: no link needed. Otherwise one of these links between caller and user must exist. */
  readonly requires?: readonly { readonly kind: string; readonly mutual: boolean }[];
}

/** Who the caller may contact, as SQL over the users table; `undefined` rules means everyone. */
export interface ContactFilter {
  readonly callerId: string;
  readonly rules: readonly ContactRule[] | undefined;
}

const u = schema.users;

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

export class UserDirectoryRepository {
  constructor(private readonly relationships: RelationshipRepository) {}

  /** Users matching `q` whom the filter lets the caller contact, by username after `afterUsername`. */
  async search(executor: Executor, filter: ContactFilter, options: { q: string; limit: number; afterUsername?: string }): Promise<UserRow[]> {
    const q = options.q.trim();
    return executor
      .select()
      .from(u)
      .where(
        and(
          this.contactable(filter),
          q === "" ? undefined : sql`${u.searchText} LIKE '%' || lower(${escapeLike(q)}) || '%' ESCAPE '\\'`,
          options.afterUsername === undefined ? undefined : gt(u.username, options.afterUsername),
        ),
      )
      .orderBy(asc(u.username))
      .limit(options.limit);
  }

  /** Which of `ids` exist and are contactable under the filter. */
  async contactableAmong(executor: Executor, filter: ContactFilter, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await executor
      .select({ id: u.id })
      .from(u)
      .where(and(inArray(u.id, [...ids]), this.contactable(filter)));
    return new Set(rows.map((row) => row.id));
  }

  /** The users among `ids` that exist. */
  async existing(executor: Executor, ids: readonly string[]): Promise<UserRow[]> {
    if (ids.length === 0) return [];
    return executor.select().from(u).where(inArray(u.id, [...ids]));
  }

  /** Users holding one of `roles`, for staffing a support conversation. */
  async withRoles(executor: Executor, roles: readonly string[], options: { excludeId?: string; limit: number }): Promise<UserRow[]> {
    if (roles.length === 0) return [];
    return executor
      .select()
      .from(u)
      .where(and(inArray(u.role, [...roles]), options.excludeId === undefined ? undefined : ne(u.id, options.excludeId)))
      .orderBy(asc(u.username))
      .limit(options.limit);
  }

  private contactable(filter: ContactFilter): SQL | undefined {
    const notSelf = ne(u.id, filter.callerId);
    if (filter.rules === undefined) return notSelf;
    // A block, either way, hides each from the other; erased accounts are nobody's contact.
    const b = schema.blocks;
    const reachable = sql`(${u.erasedAt} IS NULL AND NOT EXISTS (SELECT 1 FROM ${b} WHERE (${b.blockerId} = ${filter.callerId} AND ${b.blockedId} = ${u.id}) OR (${b.blockerId} = ${u.id} AND ${b.blockedId} = ${filter.callerId})))`;
    const alternatives = filter.rules.flatMap((rule): SQL[] => {
      const roles = "in" in rule.roles ? inList(rule.roles.in) : notInArray(u.role, [...rule.roles.notIn]);
      if (roles === undefined) return [];
      if (rule.requires === undefined) return [roles];
      const links = rule.requires.map((link) => this.relationships.linked(filter.callerId, u.id, link.kind, link.mutual));
      const any = or(...links);
      return any === undefined ? [] : [sql`(${roles} AND ${any})`];
    });
    return and(notSelf, reachable, or(...alternatives) ?? sql`false`);
  }
}

function inList(roles: readonly string[]): SQL | undefined {
  return roles.length === 0 ? undefined : inArray(u.role, [...roles]);
}
