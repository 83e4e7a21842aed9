/** WebSocket close codes (PROTOCOL.md "Close codes"). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  frameTooLarge: 1009,
  nodeRestarting: 1012,
  internalError: 4000,
  badToken: 4001,
  forbidden: 4003,
  rateLimited: 4008,
  slowConsumer: 4009,
  tooManyConnections: 4010,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

interface ErrorSpec {
  /** HTTP status on REST. */
  readonly status: number;
  /** Close code when the error ends a WebSocket; undefined when it is answered with an `error` frame only. */
  readonly close?: CloseCode;
  readonly message: string;
}

/** The one table from error code to HTTP status and WebSocket close code, used by every transport. */
export const ERRORS = {
  invalid_request: { status: 400, message: "The request is invalid." },
  invalid_frame: { status: 400, message: "The frame is invalid." },
  unknown_type: { status: 400, message: "The frame type is unknown." },
  invalid_cursor: { status: 400, message: "The cursor is invalid." },
  unauthorized: { status: 401, close: CloseCode.badToken, message: "A valid access token is required." },
  invalid_token: { status: 401, close: CloseCode.badToken, message: "The access token is invalid." },
  token_expired: { status: 401, close: CloseCode.badToken, message: "The access token has expired." },
  token_revoked: { status: 401, close: CloseCode.badToken, message: "The access token was revoked." },
  auth_timeout: { status: 401, close: CloseCode.badToken, message: "No auth frame arrived in time." },
  account_suspended: { status: 401, close: CloseCode.badToken, message: "This account is suspended." },
  invalid_credentials: { status: 401, message: "The username or password is wrong." },
  forbidden: { status: 403, close: CloseCode.forbidden, message: "You are not allowed to do this." },
  conversation_closed: { status: 403, message: "This conversation is closed: its two people may no longer write to each other." },
  origin_not_allowed: { status: 403, message: "This origin is not allowed." },
  not_found: { status: 404, message: "Not found." },
  conflict: { status: 409, message: "The request conflicts with the current state." },
  username_taken: { status: 409, message: "This username is taken." },
  confirmation_invalid: { status: 404, message: "The confirmation link is unknown, used or expired." },
  resume_too_old: { status: 410, message: "The stream no longer reaches back that far; refetch over REST." },
  message_too_large: { status: 413, message: "The message is too large." },
  payload_too_large: { status: 413, close: CloseCode.frameTooLarge, message: "The payload is too large." },
  rate_limited: { status: 429, message: "Too many requests; retry later." },
  abuse: { status: 429, close: CloseCode.rateLimited, message: "Too many invalid or rate-limited frames." },
  too_many_connections: { status: 429, close: CloseCode.tooManyConnections, message: "Too many connections for this user." },
  slow_consumer: { status: 503, close: CloseCode.slowConsumer, message: "The connection fell too far behind." },
  node_restarting: { status: 503, close: CloseCode.nodeRestarting, message: "This node is restarting; reconnect elsewhere." },
  unavailable: { status: 503, message: "A dependency is unavailable; retry later." },
  internal_error: { status: 500, close: CloseCode.internalError, message: "Internal error." },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export function httpStatusOf(code: ErrorCode): number {
  return ERRORS[code].status;
}

export function closeCodeOf(code: ErrorCode): CloseCode | undefined {
  const spec: ErrorSpec = ERRORS[code];
  return spec.close;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

/**
 * A typed domain error. Services throw it; transports map `code` through {@link ERRORS}.
 * `field` names the offending input; `details` carries extra machine-readable data (e.g. retry_after_ms).
 */
export class ParleyError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    readonly field?: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = "ParleyError";
  }
}
