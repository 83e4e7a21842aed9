import { pino } from "pino";

/** What a log line may say about an error: its kind and codes, never the values a query or command carried. */
type SerializedError = Record<string, unknown>;

const EMAIL = /[^\s<>"'(),;:]+@[^\s<>"'(),;:]+\.[^\s<>"'(),;:]+/g;
const MAX_CAUSES = 5;
// nodemailer attaches the server's answer and the envelope (recipients' addresses); drivers their parameters.
const DROPPED = new Set(["cause", "response", "rejected", "rejectedErrors", "envelope", "accepted", "params", "parameters", "detail", "args"]);

/** A PostgreSQL error (postgres.js): SQLSTATE and the objects involved; its message and detail can quote values. */
function isPostgresError(error: object): error is { code: string; severity?: unknown; constraint_name?: unknown; table_name?: unknown; column_name?: unknown; routine?: unknown } {
  const { code, severity, name } = error as { code?: unknown; severity?: unknown; name?: unknown };
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && (typeof severity === "string" || name === "PostgresError");
}

/** Drizzle wraps driver errors with the query text and every parameter value in its message. */
function isQueryWrapper(error: object): boolean {
  return "params" in error && "query" in error;
}

function scrub(text: string): string {
  return text.replace(EMAIL, "[email]");
}

function serializeOne(error: unknown, depth: number): SerializedError | undefined {
  if (error === undefined) return undefined;
  if (typeof error !== "object" || error === null) return { message: typeof error === "string" ? scrub(error) : typeof error };
  const type = (error as { constructor?: { name?: unknown } }).constructor?.name;
  const cause = depth < MAX_CAUSES ? serializeOne((error as { cause?: unknown }).cause, depth + 1) : undefined;
  const withCause = (fields: SerializedError): SerializedError => (cause === undefined ? fields : { ...fields, cause });
  if (isPostgresError(error)) {
    return withCause({
      type: "PostgresError",
      sqlstate: error.code,
      ...(typeof error.constraint_name === "string" ? { constraint: error.constraint_name } : {}),
      ...(typeof error.table_name === "string" ? { table: error.table_name } : {}),
      ...(typeof error.column_name === "string" ? { column: error.column_name } : {}),
      ...(typeof error.routine === "string" ? { routine: error.routine } : {}),
    });
  }
  if (isQueryWrapper(error)) return withCause({ type: typeof type === "string" ? type : "QueryError", message: "database query failed" });
  const base = Object.fromEntries(Object.entries(pino.stdSerializers.err(error as Error) as unknown as SerializedError).filter(([key]) => !DROPPED.has(key)));
  // ioredis attaches the command with its arguments (stream payloads, keys with ids); keep the command's name only.
  const command = (error as { command?: unknown }).command;
  if (typeof command === "object" && command !== null) base.command = (command as { name?: unknown }).name;
  if (typeof base.message === "string") base.message = scrub(base.message);
  if (typeof base.stack === "string") base.stack = scrub(base.stack);
  return withCause(base);
}

/** pino's `err` serializer, minus everything that could carry a parameter value, a hash or an address. */
export function serializeError(error: unknown): unknown {
  return serializeOne(error, 0);
}
