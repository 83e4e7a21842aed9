import { isErrorCode, type ErrorCode } from "@parley/protocol";

/** Why a client stopped for good: it will not reconnect by itself. */
export type TerminalReason =
  /** Closed 4003: this token may not use WebSockets (e.g. a service token). */
  | "forbidden"
  /** Closed 4010: the user has too many connections; close another one first. */
  | "too_many_connections"
  /** Closed 4008: the server saw persistent abuse from this client. */
  | "abuse"
  /** The token provider failed, or the server refused fresh tokens twice in a row. */
  | "unauthorized"
  /** `close()` was called. */
  | "closed";

/** A command or request the server refused: the protocol's error code, and the field / retry delay when given. */
export class ParleyRequestError extends Error {
  override readonly name = "ParleyRequestError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The HTTP status for REST calls; undefined for WebSocket commands. */
    readonly status?: number,
    readonly field?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The connection ended for good (see {@link TerminalReason}); pending commands reject with it. */
export class ParleyTerminalError extends Error {
  override readonly name = "ParleyTerminalError";
  constructor(
    readonly reason: TerminalReason,
    message: string,
    /** The WebSocket close code that ended it, when a close did. */
    readonly closeCode?: number,
  ) {
    super(message);
  }
}

/** A command got no answer within its deadline (the connection may have been lost). */
export class ParleyTimeoutError extends Error {
  override readonly name = "ParleyTimeoutError";
  constructor(readonly command: string, readonly timeoutMs: number) {
    super(`${command} got no answer within ${timeoutMs} ms`);
  }
}

/** The server answered something that does not match the protocol (a bug or a version mismatch). */
export class ParleyProtocolError extends Error {
  override readonly name = "ParleyProtocolError";
}

/** Close codes that end the client for good, with their reason. */
export const TERMINAL_CLOSES: Readonly<Record<number, TerminalReason>> = {
  4003: "forbidden",
  4008: "abuse",
  4010: "too_many_connections",
};

/** A protocol code from a server answer; an unknown one (a newer server) maps through the HTTP status. */
export function errorCodeOf(code: string | undefined, status?: number): ErrorCode {
  if (code !== undefined && isErrorCode(code)) return code;
  if (status === 400) return "invalid_request";
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 413) return "payload_too_large";
  if (status === 429) return "rate_limited";
  if (status === 503) return "unavailable";
  return "internal_error";
}

/** Errors worth retrying later with the same request (idempotent sends): the server or the network, not the input. */
export function isRetryable(code: ErrorCode): boolean {
  return code === "rate_limited" || code === "unavailable" || code === "internal_error" || code === "node_restarting" || code === "slow_consumer";
}
