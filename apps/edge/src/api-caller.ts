import type { ApiCaller } from "./api-client";
import type { Connection } from "./connection";

/** The API caller of an authenticated socket: its verified identity and the client's address. */
export function callerOf(connection: Connection): ApiCaller {
  const identity = connection.identity;
  if (identity === undefined) throw new Error("connection is not authenticated");
  return { identity, clientIp: connection.remoteAddress };
}
