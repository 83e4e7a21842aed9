import postgres from "postgres";

const INVALID_CATALOG_NAME = "3D000"; // database does not exist
const DUPLICATE_DATABASE = "42P04";
const UNIQUE_VIOLATION = "23505"; // pg_database's own index, when two CREATE DATABASE race

/**
 * Creates the database named in `databaseUrl` when it does not exist yet, through the `postgres` database of
 * the same server. Returns whether it created it. Safe to run from several processes at once.
 */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  if (await databaseExists(databaseUrl)) return false;
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = "/postgres";
  const admin = postgres(url.toString(), { max: 1, onnotice: () => undefined });
  try {
    await admin`CREATE DATABASE ${admin(name)}`;
    return true;
  } catch (error) {
    if (hasCode(error, DUPLICATE_DATABASE) || hasCode(error, UNIQUE_VIOLATION)) return false;
    throw error;
  } finally {
    await admin.end({ timeout: 5 });
  }
}

async function databaseExists(databaseUrl: string): Promise<boolean> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    await sql`SELECT 1`;
    return true;
  } catch (error) {
    if (hasCode(error, INVALID_CATALOG_NAME)) return false;
    throw error;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof postgres.PostgresError && error.code === code;
}
