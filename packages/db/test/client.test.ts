import { eq, inArray, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "../src";
import { useMigratedDatabase } from "./support/databases";

// One connection: pg_prepared_statements lists the statements of the session that asks.
const database = useMigratedDatabase(1);

/** Named statements this connection holds whose text contains `fragment`. */
async function preparedLike(fragment: string): Promise<number> {
  const [row] = await database.handle.sql<{ count: number }[]>`
    SELECT count(*)::int AS count FROM pg_prepared_statements WHERE statement LIKE ${`%${fragment}%`}`;
  return row?.count ?? 0;
}

describe("createDb", () => {
  it("runs drizzle's queries as named prepared statements, one per distinct text, outside and inside transactions", async () => {
    const { db } = database.handle;
    for (const id of ["a", "b", "c"]) {
      expect(await db.select({ id: users.id }).from(users).where(eq(users.id, id))).toEqual([]);
    }
    expect(await preparedLike('from "users" where "users"."id" = $1')).toBe(1);

    const inserted = await db.transaction(async (tx) => {
      await tx.insert(users).values({ id: "u1", username: "u1", displayName: "One", role: "user" });
      return tx.select({ name: users.displayName }).from(users).where(eq(users.username, "u1"));
    });
    expect(inserted).toEqual([{ name: "One" }]);
    expect(await preparedLike('insert into "users"')).toBe(1);
    expect(await preparedLike('where "users"."username" = $1')).toBe(1);
  });

  it("still rolls a failed transaction back and reports the database's error", async () => {
    const { db } = database.handle;
    const attempt = db.transaction(async (tx) => {
      await tx.insert(users).values({ id: "u2", username: "u2", displayName: "Two", role: "user" });
      await tx.execute(sql`SELECT 1 / ${0}`);
    });
    await expect(attempt).rejects.toThrow();
    expect(await db.select({ id: users.id }).from(users).where(eq(users.id, "u2"))).toEqual([]);
  });

  it("keeps nested transactions (savepoints) working through the same view of the client", async () => {
    const { db } = database.handle;
    await db.transaction(async (tx) => {
      await tx.insert(users).values({ id: "u3", username: "u3", displayName: "Three", role: "user" });
      await expect(
        tx.transaction(async (inner) => {
          await inner.insert(users).values({ id: "u4", username: "u4", displayName: "Four", role: "user" });
          throw new Error("undo the inner part only");
        }),
      ).rejects.toThrow("undo the inner part only");
    });
    const ids = (await db.select({ id: users.id }).from(users).where(inArray(users.id, ["u3", "u4"]))).map((row) => row.id);
    expect(ids).toEqual(["u3"]);
  });
});
