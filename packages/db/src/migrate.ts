import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate as runMigrations } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

export interface MigrateLogger {
  info(obj: object, msg?: string): void;
}

export interface MigrateOptions {
  readonly logger?: MigrateLogger;
}

/** A migration failed and was rolled back; the message is PostgreSQL's, not drizzle's echo of the whole SQL. */
export class MigrationError extends Error {
  override readonly name = "MigrationError";
}

export interface MigrateResult {
  /** How many migrations this call applied: 0 when the database was already current. */
  readonly applied: number;
}

/** Where drizzle-kit writes the SQL migrations and their journal. */
export const migrationsFolder = fileURLToPath(new URL("../drizzle", import.meta.url));

/** Session advisory lock key ("pmig"): every process migrating the same database queues on it. */
const MIGRATION_LOCK = 0x706d6967;

/**
 * Brings the database to the latest schema. Holds an advisory lock on a reserved connection for the whole
 * run, so concurrent starts migrate exactly once: the others wait, then find nothing left to apply.
 */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const started = performance.now();
  // Two connections: one holds the lock, the other runs drizzle's migration transaction.
  const client = postgres(databaseUrl, { max: 2, onnotice: () => undefined });
  try {
    const lock = await client.reserve();
    try {
      await lock`SELECT pg_advisory_lock(${MIGRATION_LOCK})`;
      try {
        const before = await countApplied(lock);
        await runMigrations(drizzle(client), { migrationsFolder }).catch((error: unknown) => {
          throw new MigrationError(reasonOf(error), { cause: error });
        });
        const applied = (await countApplied(lock)) - before;
        options.logger?.info({ applied, duration_ms: Math.round(performance.now() - started) }, "database migrations done");
        return { applied };
      } finally {
        await lock`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`;
      }
    } finally {
      lock.release();
    }
  } finally {
    await client.end({ timeout: 5 });
  }
}

function reasonOf(error: unknown): string {
  // drizzle wraps the PostgresError in a DrizzleQueryError whose message is the failed SQL.
  const cause = error instanceof Error && error.cause instanceof postgres.PostgresError ? error.cause : error;
  if (cause instanceof postgres.PostgresError) return `${cause.message} (${cause.code})`;
  return cause instanceof Error ? cause.message : String(cause);
}

async function countApplied(sql: postgres.Sql): Promise<number> {
  const [table] = await sql<{ exists: boolean }[]>`
    SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS exists`;
  if (!table?.exists) return 0;
  const [row] = await sql<{ count: number }[]>`SELECT count(*)::int AS count FROM drizzle.__drizzle_migrations`;
  return row?.count ?? 0;
}

/** A sha256 over every file of the migrations folder: changes whenever a migration does. */
export function migrationsFingerprint(): string {
  const hash = createHash("sha256");
  for (const file of listFiles(migrationsFolder)) {
    hash.update(path.relative(migrationsFolder, file).split(path.sep).join("/"));
    hash.update("\0");
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex");
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? listFiles(full) : entry.isFile() ? [full] : [];
    });
}
