import { readFileSync } from "node:fs";
import path from "node:path";
import { createTestDatabase, type TestDatabase } from "@parley/testing";
import { getTableName, is } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { migrate, MigrationError, migrationsFingerprint, migrationsFolder, schema } from "../src";

const journal = z
  .object({ entries: z.array(z.object({ tag: z.string() })) })
  .parse(JSON.parse(readFileSync(path.join(migrationsFolder, "meta", "_journal.json"), "utf8")));
const migrationCount = journal.entries.length;

const schemaTables = Object.values(schema)
  .filter((value) => is(value, PgTable))
  .map((table) => getTableName(table))
  .sort();

const databases: TestDatabase[] = [];
async function emptyDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  databases.push(database);
  return database;
}

async function withSql<T>(url: string, run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    return await run(sql);
  } finally {
    await sql.end();
  }
}

afterAll(async () => {
  await Promise.all(databases.map((database) => database.drop()));
});

describe("migrate", () => {
  it("creates every table of the schema in an empty database", async () => {
    const database = await emptyDatabase();
    const logged: object[] = [];

    const result = await migrate(database.url, { logger: { info: (obj) => logged.push(obj) } });

    expect(result.applied).toBe(migrationCount);
    expect(logged).toEqual([expect.objectContaining({ applied: migrationCount })]);
    const tables = await withSql(database.url, (sql) =>
      sql<{ tablename: string }[]>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
    );
    expect(tables.map((row) => row.tablename)).toEqual(schemaTables);
    expect(schemaTables).toEqual(
      ["archived_messages", "conversations", "email_log", "messages", "outbox", "participants", "relationships", "users"].sort(),
    );
  });

  it("applies nothing the second time", async () => {
    const database = await emptyDatabase();
    await migrate(database.url);

    expect(await migrate(database.url)).toEqual({ applied: 0 });
  });

  it("migrates exactly once when two processes start at the same moment", async () => {
    const database = await emptyDatabase();

    const results = await Promise.all([migrate(database.url), migrate(database.url)]);

    expect(results.map((result) => result.applied).sort()).toEqual([0, migrationCount]);
    const [row] = await withSql(database.url, (sql) => sql<{ count: number }[]>`SELECT count(*)::int AS count FROM drizzle.__drizzle_migrations`);
    expect(row?.count).toBe(migrationCount);
  });

  it("leaves nothing half-applied when a migration fails, and succeeds once the cause is gone", async () => {
    const database = await emptyDatabase();
    await withSql(database.url, (sql) => sql`CREATE TABLE users (id int)`);

    const failure = migrate(database.url);
    await expect(failure).rejects.toThrow(MigrationError);
    await expect(failure).rejects.toThrow('relation "users" already exists (42P07)');
    const extensions = await withSql(database.url, (sql) => sql`SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'`);
    expect(extensions).toHaveLength(0);

    await withSql(database.url, (sql) => sql`DROP TABLE users`);
    expect(await migrate(database.url)).toEqual({ applied: migrationCount });
  });

  it("enables pg_trgm", async () => {
    const database = await emptyDatabase();
    await migrate(database.url);

    const extensions = await withSql(database.url, (sql) => sql<{ extname: string }[]>`SELECT extname FROM pg_extension`);
    expect(extensions.map((row) => row.extname)).toContain("pg_trgm");
  });
});

describe("migrationsFingerprint", () => {
  it("is a stable sha256 of the migrations folder", () => {
    expect(migrationsFingerprint()).toMatch(/^[0-9a-f]{64}$/);
    expect(migrationsFingerprint()).toBe(migrationsFingerprint());
  });

  it("names a template that test databases are cloned from already migrated", async () => {
    const database = await createTestDatabase({
      migrate: async (url) => {
        await migrate(url);
      },
      templateKey: migrationsFingerprint(),
    });
    databases.push(database);

    expect(await migrate(database.url)).toEqual({ applied: 0 });
  });
});
