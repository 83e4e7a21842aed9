import { ParleyError, type Page } from "@parley/protocol";
import { z } from "zod";

/** An opaque list cursor: base64url JSON of the keyset position. */
export function encodeCursor(position: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(position), "utf8").toString("base64url");
}

/** Decodes a cursor made by {@link encodeCursor}; anything else is 400 invalid_cursor. */
export function decodeCursor<S extends z.ZodType>(cursor: string, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new ParleyError("invalid_cursor", undefined, "cursor");
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ParleyError("invalid_cursor", undefined, "cursor");
  return parsed.data;
}

/**
 * One page of a list read with `limit + 1` rows: the first `limit` rows as items, and a cursor to the last item's
 * position when the extra row shows there is more.
 */
export function pageOf<R, T>(rows: readonly R[], limit: number, item: (row: R) => T, position: (row: R) => Record<string, unknown>): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items: items.map((row) => item(row)), next_cursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null };
}

const idCursor = z.object({ id: z.uuid() });

/**
 * What a repository reads for one page of a newest-first list by UUIDv7 id: the rows before the id the cursor names,
 * one more than the page shows (the sign that there is a next page, for {@link pageOf}).
 */
export function newestFirstPage(query: { readonly cursor?: string | undefined; readonly limit: number }): { beforeId: string | undefined; limit: number } {
  return { beforeId: query.cursor === undefined ? undefined : decodeCursor(query.cursor, idCursor).id, limit: query.limit + 1 };
}
