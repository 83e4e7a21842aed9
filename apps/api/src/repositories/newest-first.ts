import { and, eq, lt, type Column, type SQL } from "drizzle-orm";

/** One page of a newest-first list keyed by a UUIDv7 id. */
export interface NewestFirstPage {
  /** The last id of the previous page: rows older than it (ids are time-ordered). */
  readonly beforeId?: string | undefined;
  readonly limit: number;
}

/**
 * The condition of a newest-first list keyed by a UUIDv7 id: every column equal to its value (an undefined value
 * filters nothing), and ids before `beforeId` (the keyset of the previous page) when given.
 */
export function newestFirstWhere(id: Column, beforeId: string | undefined, equal: readonly (readonly [Column, string | undefined])[]): SQL | undefined {
  return and(...equal.map(([column, value]) => (value === undefined ? undefined : eq(column, value))), beforeId === undefined ? undefined : lt(id, beforeId));
}
