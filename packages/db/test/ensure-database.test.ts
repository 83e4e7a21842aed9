import { describe, expect, it } from "vitest";
import { ensureDatabase } from "../src";
import { missingDatabase, withSql } from "./support/databases";

const missing = missingDatabase();

describe("ensureDatabase", () => {
  it("creates a missing database once, even when asked twice at the same moment", async () => {
    const url = await missing.url();

    const created = await Promise.all([ensureDatabase(url), ensureDatabase(url)]);

    expect(created.sort()).toEqual([false, true]);
    expect(await ensureDatabase(url)).toBe(false);
    const [row] = await withSql(url, (sql) => sql<{ name: string }[]>`SELECT current_database() AS name`);
    expect(row?.name).toBe(missing.name);
  });
});
