import { randomBytes } from "node:crypto";
import { databaseUrl, resolveServices } from "@parley/testing";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src";

const name = `parley_t_${randomBytes(6).toString("hex")}`;
let adminUrl: string | undefined;

afterAll(async () => {
  if (!adminUrl) return;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
  } finally {
    await admin.end();
  }
});

describe("ensureDatabase", () => {
  it("creates a missing database once, even when asked twice at the same moment", async () => {
    adminUrl = (await resolveServices()).adminDatabaseUrl;
    const url = databaseUrl(adminUrl, name);

    const created = await Promise.all([ensureDatabase(url), ensureDatabase(url)]);

    expect(created.sort()).toEqual([false, true]);
    expect(await ensureDatabase(url)).toBe(false);
    const sql = postgres(url, { max: 1, onnotice: () => undefined });
    try {
      const [row] = await sql<{ name: string }[]>`SELECT current_database() AS name`;
      expect(row?.name).toBe(name);
    } finally {
      await sql.end();
    }
  });
});
