import { schema, type Database, type Executor, type Tx } from "@parley/db";
import { eq, inArray, sql } from "drizzle-orm";

export type UserRow = typeof schema.users.$inferSelect;
export type NewUserRow = typeof schema.users.$inferInsert;

const UNIQUE_VIOLATION = "23505";

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  // drizzle wraps driver errors; the postgres error sits on `cause`.
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const pg = e as { code?: unknown; constraint_name?: unknown };
    if (pg.code === UNIQUE_VIOLATION) return constraint === undefined || pg.constraint_name === constraint;
  }
  return false;
}

export type UserChanges = Partial<
  Pick<UserRow, "displayName" | "email" | "emailNotifications" | "role" | "emailConfirmedAt" | "suspendedAt" | "erasedAt" | "username" | "passwordHash">
>;

/** The lookup behind every authenticated request and internal command whose subject is not cached: built once. */
function preparedById(database: Database) {
  return database.db.select().from(schema.users).where(eq(schema.users.id, sql.placeholder("id"))).limit(1).prepare("parley_user_by_id");
}

export class UserRepository {
  private readonly byId: ReturnType<typeof preparedById>;

  constructor(private readonly database: Database) {
    // Building the select (every column of users) cost more API CPU than any statement of a send batch (profile in
    // docs/PERFORMANCE.md); a prepared query only binds the id.
    this.byId = preparedById(database);
  }

  async findById(id: string): Promise<UserRow | undefined> {
    const [row] = await this.byId.execute({ id });
    return row;
  }

  async findByUsername(username: string): Promise<UserRow | undefined> {
    const [row] = await this.database.db.select().from(schema.users).where(eq(schema.users.username, username.toLowerCase())).limit(1);
    return row;
  }

  async findManyByIds(ids: readonly string[]): Promise<UserRow[]> {
    if (ids.length === 0) return [];
    return this.database.db.select().from(schema.users).where(inArray(schema.users.id, [...ids]));
  }

  /** Inserts a user; a taken username throws a unique violation on users_username_key. */
  async insert(row: NewUserRow): Promise<UserRow> {
    const [created] = await this.database.db.insert(schema.users).values(row).returning();
    if (!created) throw new Error("insert returned no row");
    return created;
  }

  /** Inserts unless a user with this id exists (a race between two first requests of the same token). */
  async insertIfAbsent(row: NewUserRow & { id: string }): Promise<UserRow> {
    await this.database.db.insert(schema.users).values(row).onConflictDoNothing({ target: schema.users.id });
    const existing = await this.findById(row.id);
    if (!existing) throw new Error("provisioned user vanished");
    return existing;
  }

  async update(id: string, changes: UserChanges, executor: Executor = this.database.db): Promise<UserRow | undefined> {
    const [row] = await executor.update(schema.users).set(changes).where(eq(schema.users.id, id)).returning();
    return row;
  }

  /** The row locked for an account change (role, suspension, erasure) in the caller's transaction. */
  async lock(tx: Tx, id: string): Promise<UserRow | undefined> {
    const [row] = await tx.select().from(schema.users).where(eq(schema.users.id, id)).for("update").limit(1);
    return row;
  }
}
