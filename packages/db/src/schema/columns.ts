import { sql } from "drizzle-orm";
import { customType, text, timestamp, uuid } from "drizzle-orm/pg-core";

/** Primary key: the app supplies a UUIDv7 (sortable); the database default covers ad-hoc inserts. */
export const id = (name = "id") => uuid(name).primaryKey().defaultRandom();

/**
 * User ids are text: users from an external identity provider keep its `sub`, which need not be a UUID.
 * Users created here get a UUIDv7 string.
 */
export const userId = (name: string) => text(name);

export const userPk = () => userId("id").primaryKey().default(sql`gen_random_uuid()::text`);

/** Every timestamp carries its time zone so nodes in different zones agree. */
export const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** drizzle-orm has no built-in tsvector; read as its text form, never written (generated columns only). */
export const tsvector = customType<{ data: string; driverData: string }>({
  dataType() {
    return "tsvector";
  },
});
