import { createHash, randomBytes } from "node:crypto";
import postgres from "postgres";
import { resolveServices } from "./services";

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** Drops the database, ending any connection still open to it. Safe to call twice. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Brings an empty database to the current schema; run once into a template that later databases clone. */
  readonly migrate?: (url: string) => Promise<unknown>;
  /** Changes whenever the migrations change (for example a hash of their files); names the template. */
  readonly templateKey?: string;
}

const TEMPLATE_LOCK = 0x70617231; // "par1": serialises template creation across test processes

export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh database for one test file, cloned from a migrated template when `migrate` is given. */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const { adminDatabaseUrl } = await resolveServices();
  const admin = postgres(adminDatabaseUrl, { max: 1, onnotice: () => undefined });
  const name = `parley_t_${randomBytes(6).toString("hex")}`;
  try {
    if (options.migrate) {
      const template = await ensureTemplate(admin, adminDatabaseUrl, options.migrate, options.templateKey ?? "default");
      await withRetry(() => admin.unsafe(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
    } else {
      await admin.unsafe(`CREATE DATABASE "${name}"`);
    }
  } finally {
    await admin.end();
  }
  let dropped = false;
  return {
    name,
    url: databaseUrl(adminDatabaseUrl, name),
    async drop() {
      if (dropped) return;
      dropped = true;
      const sql = postgres(adminDatabaseUrl, { max: 1, onnotice: () => undefined });
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await sql.end();
      }
    },
  };
}

async function ensureTemplate(
  admin: postgres.Sql,
  adminUrl: string,
  migrate: (url: string) => Promise<unknown>,
  key: string,
): Promise<string> {
  const template = `parley_tpl_${createHash("sha256").update(key).digest("hex").slice(0, 16)}`;
  const reserved = await admin.reserve();
  try {
    await reserved`SELECT pg_advisory_lock(${TEMPLATE_LOCK})`;
    const [row] = await reserved<{ ready: boolean }[]>`
      SELECT datistemplate AS ready FROM pg_database WHERE datname = ${template}`;
    if (row?.ready) return template;
    if (row) await reserved.unsafe(`DROP DATABASE "${template}" WITH (FORCE)`);
    await reserved.unsafe(`CREATE DATABASE "${template}"`);
    await migrate(databaseUrl(adminUrl, template));
    // Marked only once migrated, so a crash mid-way leaves a template that is rebuilt next time.
    await reserved.unsafe(`ALTER DATABASE "${template}" WITH IS_TEMPLATE true`);
    return template;
  } finally {
    await reserved`SELECT pg_advisory_unlock(${TEMPLATE_LOCK})`;
    reserved.release();
  }
}

async function withRetry<T>(action: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      // Another process may hold a connection to the template for a moment.
      const busy = error instanceof Error && error.message.includes('being accessed by other users');
      if (!busy || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}
