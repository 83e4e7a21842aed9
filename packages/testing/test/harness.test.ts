import postgres from "postgres";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createTestDatabase, createTestRedis, resolveServices, waitFor } from "../src";
import { RESOLVED_SERVICES_ENV } from "../src/services";

describe("the test harness", () => {
  it("resolves local services when no URL or Docker engine is given", async () => {
    const services = await resolveServices();
    expect(services.adminDatabaseUrl).toMatch(/^postgres/);
    expect(services.redisUrl).toMatch(/^redis/);
  });

  it("hands every test file the services the global setup resolved once for the run", async () => {
    const handed = process.env[RESOLVED_SERVICES_ENV];
    expect(handed).toBeTruthy();
    expect(await resolveServices()).toEqual(JSON.parse(handed ?? "null"));
  });

  it("clones each database from a template migrated once", async () => {
    let migrations = 0;
    const migrate = async (url: string) => {
      migrations++;
      const sql = postgres(url, { max: 1, onnotice: () => undefined });
      await sql`CREATE TABLE marker (id int)`;
      await sql.end();
    };
    const key = `harness-test-${Date.now()}-${Math.random()}`;
    const [a, b] = await Promise.all([createTestDatabase({ migrate, templateKey: key }), createTestDatabase({ migrate, templateKey: key })]);
    expect(migrations).toBe(1);
    expect(a.name).not.toBe(b.name);
    for (const db of [a, b]) {
      const sql = postgres(db.url, { max: 1 });
      expect(await sql`SELECT count(*)::int AS n FROM marker`).toEqual([{ n: 0 }]);
      await sql.end();
      await db.drop();
      await db.drop();
    }
    const admin = postgres((await resolveServices()).adminDatabaseUrl, { max: 1 });
    const left = await admin`SELECT datname FROM pg_database WHERE datname IN (${a.name}, ${b.name})`;
    const template = `parley_tpl_${(await import("node:crypto")).createHash("sha256").update(key).digest("hex").slice(0, 16)}`;
    await admin.unsafe(`ALTER DATABASE "${template}" WITH IS_TEMPLATE false`);
    await admin.unsafe(`DROP DATABASE "${template}"`);
    await admin.end();
    expect(left).toEqual([]);
  });

  it("gives each file its own Redis prefix and cleans it up", async () => {
    const one = await createTestRedis("x");
    const two = await createTestRedis("x");
    expect(one.prefix).not.toBe(two.prefix);
    const redis = new Redis(one.url);
    await redis.set(`${one.prefix}k`, "1");
    await redis.set(`${two.prefix}k`, "2");
    await one.cleanup();
    expect(await redis.get(`${one.prefix}k`)).toBeNull();
    expect(await redis.get(`${two.prefix}k`)).toBe("2");
    await two.cleanup();
    redis.disconnect();
  });

  it("polls until a condition holds and fails with a message at the deadline", async () => {
    let calls = 0;
    expect(await waitFor(() => (++calls >= 3 ? "done" : undefined), { interval: 1 })).toBe("done");
    await expect(waitFor(() => false, { timeout: 50, message: "never true" })).rejects.toThrow(/never true within 50 ms/);
  });
});
