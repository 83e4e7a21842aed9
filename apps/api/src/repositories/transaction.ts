import type { Database } from "@parley/db";

/** A Drizzle transaction handle, as passed to `db.transaction(async (tx) => ...)`. */
export type Tx = Parameters<Parameters<Database["db"]["transaction"]>[0]>[0];
/** Either the database or a transaction: repositories accept both so services choose the boundary. */
export type Executor = Database["db"] | Tx;
