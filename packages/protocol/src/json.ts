import type { z } from "zod";

/**
 * Parses JSON text from outside the process (a Redis payload, an internal frame, a log line) with `schema`:
 * the value, or undefined for anything that is not JSON or not of the schema. Never throws.
 */
export function parseJsonWith<S extends z.ZodType>(schema: S, text: string): z.output<S> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
