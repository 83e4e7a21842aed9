// Usage: DATABASE_URL=postgres://... pnpm --filter @parley/db migrate
import { databaseEnv, loadConfig } from "@parley/config";
import { ensureDatabase } from "./ensure-database";
import { migrate } from "./migrate";

try {
  const { DATABASE_URL } = loadConfig(databaseEnv);
  const created = await ensureDatabase(DATABASE_URL);
  const { applied } = await migrate(DATABASE_URL);
  process.stdout.write(`${JSON.stringify({ ok: true, database_created: created, applied })}\n`);
} catch (error) {
  process.stderr.write(`migration failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
