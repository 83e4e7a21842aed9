import { ParleyError } from "@parley/protocol";
import type { z } from "zod";

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
