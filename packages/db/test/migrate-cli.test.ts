import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { missingDatabase } from "./support/databases";

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const missing = missingDatabase();

function migrateCli(env: Record<string, string>) {
  return run("pnpm", ["exec", "tsx", "src/migrate-cli.ts"], { cwd: packageDir, env: { ...process.env, ...env } });
}

describe("pnpm migrate", () => {
  it("creates the database when missing, migrates it, and says so in one JSON line", async () => {
    const url = await missing.url();

    const first = await migrateCli({ DATABASE_URL: url });
    const second = await migrateCli({ DATABASE_URL: url });

    expect(first.stdout).toMatch(/^\{.*\}\n$/);
    expect(JSON.parse(first.stdout)).toEqual({ ok: true, database_created: true, applied: expect.any(Number) as number });
    expect(JSON.parse(second.stdout)).toEqual({ ok: true, database_created: false, applied: 0 });
  });

  it("exits non-zero with the reason when DATABASE_URL is invalid", async () => {
    const failure = await migrateCli({ DATABASE_URL: "mysql://nope" }).then(
      () => undefined,
      (error: unknown) => error as { code: number; stderr: string },
    );

    expect(failure?.code).not.toBe(0);
    expect(failure?.stderr).toContain("DATABASE_URL: must be a postgres:// URL");
  });
});
