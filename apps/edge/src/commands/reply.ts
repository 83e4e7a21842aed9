import type { ApiAnswer, ApiError } from "../api-client";
import type { Connection } from "../connection";

/** Answers a command with the API's answer: `ack` with its body, or the `error` frame of the same code. */
export function replyWith(connection: Connection, id: string | undefined, answer: ApiAnswer): void {
  if (answer.ok) connection.ack(id, answer.body ?? {});
  else replyError(connection, id, answer.error);
}

export function replyError(connection: Connection, id: string | undefined, error: ApiError): void {
  connection.error(id, error.code, error.message, {
    ...(error.field === undefined ? {} : { field: error.field }),
    ...(error.retry_after_ms === undefined ? {} : { retry_after_ms: error.retry_after_ms }),
  });
  // Hammering past a limit is abuse: enough of it closes the socket 4008.
  if (error.code === "rate_limited") connection.strike();
}
