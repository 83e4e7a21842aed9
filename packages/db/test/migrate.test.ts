import { readFileSync } from "node:fs";
import path from "node:path";
import { createTestDatabase, type TestDatabase } from "@parley/testing";
import { getTableName, is } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import type postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { migrate, MigrationError, migrationsFingerprint, migrationsFolder, schema } from "../src";
import { migratedTestDatabase, withSql } from "./support/databases";

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

/** Applies one migration's SQL by hand, in one transaction. */
function applyByHand(sql: postgres.Sql, tag: string): Promise<void> {
  return sql.begin(async (tx) => {
    const text = readFileSync(path.join(migrationsFolder, `${tag}.sql`), "utf8");
    for (const statement of text.split("--> statement-breakpoint")) await tx.unsafe(statement);
  });
}

/** Applies, by hand, every migration before `tag` (the `position`-th, 0-based, which the test names to be sure). */
async function applyBefore(sql: postgres.Sql, tag: string, position: number): Promise<void> {
  const before = journal.entries.findIndex((entry) => entry.tag === tag);
  expect(before).toBe(position);
  for (const entry of journal.entries.slice(0, before)) await applyByHand(sql, entry.tag);
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
      ["archived_messages", "audit_log", "blocks", "conversations", "email_confirmations", "email_log", "messages", "outbox", "participants", "relationships", "reports", "users"].sort(),
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

  it("turns e-mail log rows written before 0002 into sent rows claimed when they were sent", async () => {
    const database = await emptyDatabase();
    // Each migration's SQL by hand, up to the one under test, with a row written by the old schema in between.
    const rows = await withSql(database.url, async (sql) => {
      await applyBefore(sql, "0002_email_log_status", 2);
      await sql`INSERT INTO users (id, username, display_name, role) VALUES ('u1', 'u1', 'U1', 'user')`;
      const [conversation] = await sql<{ id: string }[]>`INSERT INTO conversations (type, title) VALUES ('group', 'g') RETURNING id`;
      await sql`INSERT INTO email_log (user_id, conversation_id, from_seq, to_seq, sent_at) VALUES ('u1', ${conversation?.id ?? ""}, 1, 3, '2026-01-02T03:04:05Z')`;
      await applyByHand(sql, "0002_email_log_status");
      return sql<{ status: string; claimed_at: Date; sent_at: Date | null; attempts: number }[]>`SELECT status, claimed_at, sent_at, attempts FROM email_log`;
    });
    const sentAt = new Date("2026-01-02T03:04:05Z");
    expect(rows).toEqual([{ status: "sent", claimed_at: sentAt, sent_at: sentAt, attempts: 0 }]);
  });

  it("backfills 0003's unread counters (live and archived messages) and the unpublished events' conversations", async () => {
    const database = await emptyDatabase();
    const { counters, outbox } = await withSql(database.url, async (sql) => {
      await applyBefore(sql, "0003_counters_and_outbox_conversation", 3);
      await sql`INSERT INTO users (id, username, display_name, role) VALUES ('a', 'a', 'A', 'user'), ('b', 'b', 'B', 'user'), ('c', 'c', 'C', 'user')`;
      const [conversation] = await sql<{ id: string }[]>`INSERT INTO conversations (type, title, last_seq) VALUES ('group', 'g', 5) RETURNING id`;
      const id = conversation?.id ?? "";
      await sql`INSERT INTO participants (conversation_id, user_id, last_read_seq, left_at) VALUES (${id}, 'a', 1, NULL), (${id}, 'b', 4, NULL), (${id}, 'c', 0, now())`;
      // Seqs 1-3 archived, 4-5 live; 3 deleted; a sends 1, 2 and 5, b sends 3 and 4.
      await sql`INSERT INTO archived_messages (conversation_id, seq, sender_id, content, deleted_at) VALUES (${id}, 1, 'a', 'x', NULL), (${id}, 2, 'a', 'x', NULL), (${id}, 3, 'b', '', now())`;
      await sql`INSERT INTO messages (conversation_id, seq, sender_id, content) VALUES (${id}, 4, 'b', 'x'), (${id}, 5, 'a', 'x')`;
      await sql`INSERT INTO outbox (recipients, event) VALUES (${["a"]}, ${sql.json({ type: "messages_read", conversation_id: id, user_id: "a", up_to_seq: 1 })}),
        (${["b"]}, ${sql.json({ type: "conversation_updated", conversation: { id } })})`;
      await applyByHand(sql, "0003_counters_and_outbox_conversation");
      return {
        counters: await sql<{ user_id: string; unread_count: number }[]>`SELECT user_id, unread_count FROM participants ORDER BY user_id`,
        outbox: await sql<{ conversation_id: string }[]>`SELECT conversation_id FROM outbox ORDER BY id`,
      };
    });
    // a: after seq 1, not their own (2, 5), not deleted (3): seq 4. b: after seq 4: seq 5. c has left: 0.
    expect(counters).toEqual([
      { user_id: "a", unread_count: 1 },
      { user_id: "b", unread_count: 1 },
      { user_id: "c", unread_count: 0 },
    ]);
    expect(new Set(outbox.map((row) => row.conversation_id)).size).toBe(1);
    expect(outbox.every((row) => typeof row.conversation_id === "string")).toBe(true);
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
    const database = await migratedTestDatabase();
    databases.push(database);

    expect(await migrate(database.url)).toEqual({ applied: 0 });
  });
});
