import { AuthError } from "@parley/auth";
import { ERRORS, ParleyError, type ErrorBody } from "@parley/protocol";
import type { ErrorRequestHandler } from "express";
import type { Logger } from "@parley/observability";

interface ErrorResponse {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Record<string, string>;
}

/** Maps anything thrown by a route to the one error table of packages/protocol. */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (error instanceof ParleyError) {
    const retryAfterMs = typeof error.details?.retry_after_ms === "number" ? error.details.retry_after_ms : undefined;
    return {
      status: ERRORS[error.code].status,
      body: {
        error: {
          code: error.code,
          message: error.message,
          ...(error.field === undefined ? {} : { field: error.field }),
          ...(retryAfterMs === undefined ? {} : { retry_after_ms: retryAfterMs }),
        },
      },
      headers: retryAfterMs === undefined ? {} : { "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
    };
  }
  if (error instanceof AuthError) {
    return { status: 401, body: { error: { code: error.code, message: ERRORS[error.code].message } }, headers: { "www-authenticate": 'Bearer error="invalid_token"' } };
  }
  const type = (error as { type?: unknown } | null)?.type;
  if (type === "entity.too.large") {
    return { status: 413, body: { error: { code: "payload_too_large", message: "The request body is too large." } }, headers: {} };
  }
  if (type === "entity.parse.failed" || type === "encoding.unsupported" || type === "charset.unsupported") {
    return { status: 400, body: { error: { code: "invalid_request", message: "The request body is not valid JSON." } }, headers: {} };
  }
  // http-errors marks client errors (a body that does not inflate) as safe to expose; the router's URIError is a bad path escape.
  const status = clientErrorStatus(error);
  if (status !== undefined) {
    return { status: 400, body: { error: { code: "invalid_request", message: status === 415 ? "The request's encoding is not supported." : "The request is malformed." } }, headers: {} };
  }
  return { status: 500, body: { error: { code: "internal_error", message: ERRORS.internal_error.message } }, headers: {} };
}

function clientErrorStatus(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { status, expose } = error as { status?: unknown; expose?: unknown };
  const fromClient = expose === true || error instanceof URIError;
  return fromClient && typeof status === "number" && status >= 400 && status < 500 ? status : undefined;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const response = toErrorResponse(error);
    if (response.status >= 500) logger.error({ err: error, method: req.method, url: req.originalUrl }, "request failed");
    res.status(response.status).set(response.headers).json(response.body);
  };
}
