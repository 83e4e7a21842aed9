import { randomBytes } from "node:crypto";
import { createTestDatabase, databaseUrl, resolveServices, type TestDatabase } from "@parley/testing";
import postgres from "postgres";
import { afterAll, beforeAll } from "vitest";
import { createDb, type Database, migrate, migrationsFingerprint } from "../../src";

/** A fresh database at the current schema, cloned from the template the migrations name. */
export function migratedTestDatabase(): Promise<TestDatabase> {
  return createTestDatabase({ migrate, templateKey: migrationsFingerprint() });
}

export interface OpenDatabase {
  /** The handle createDb gave (inside tests and hooks only). */
  readonly handle: Database;
  readonly url: string;
}

/** A migrated database for the file's tests, opened through createDb with a pool of `max` connections before them and dropped after them. */
export function useMigratedDatabase(max: number): OpenDatabase {
  let database: TestDatabase | undefined;
  let handle: Database | undefined;
  beforeAll(async () => {
    database = await migratedTestDatabase();
    handle = createDb(database.url, { max });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });
  const opened = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the database is not open yet (use it inside tests)");
    return value;
  };
  return {
    get handle() {
      return opened(handle);
    },
    get url() {
      return opened(database).url;
    },
  };
}

/** Runs `run` on one plain connection to `url`, closed afterwards. */
export async function withSql<T>(url: string, run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    return await run(sql);
  } finally {
    await sql.end();
  }
}

/**
 * A database name no other test uses, for code that creates the database itself: `url()` is where it would be,
 * and the database is dropped after the file's tests whether or not anything created it.
 */
export function missingDatabase(): { readonly name: string; url(): Promise<string> } {
  const name = `parley_t_${randomBytes(6).toString("hex")}`;
  let adminUrl: string | undefined;
  afterAll(async () => {
    if (adminUrl === undefined) return;
    await withSql(adminUrl, (admin) => admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`);
  });
  return {
    name,
    url: async () => {
      adminUrl = (await resolveServices()).adminDatabaseUrl;
      return databaseUrl(adminUrl, name);
    },
  };
}
