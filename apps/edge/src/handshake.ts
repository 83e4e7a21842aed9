import type { TokenVerifier } from "@parley/auth";
import type { Logger } from "@parley/observability";
import type { ErrorCode } from "@parley/protocol";
import { ERRORS } from "@parley/protocol";
import { STATUS_CODES, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { authenticate } from "./authentication";
import type { Identity } from "./connection";
import type { HandshakeLimit } from "./handshake-limit";
import type { EdgeMetrics } from "./metrics";

export const WS_PATH = "/v1/ws";

export type UpgradeDecision =
  | { readonly ok: true; readonly identity: Identity | undefined }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly retryAfterMs?: number };

export interface HandshakeOptions {
  readonly allowedOrigins: readonly string[];
  readonly verifier: TokenVerifier;
  readonly metrics: EdgeMetrics;
  readonly logger: Logger;
  readonly isDraining: () => boolean;
  /** The client's address (from trusted proxies) for the per-address handshake limit. */
  readonly clientAddress: string;
  readonly handshakes: HandshakeLimit;
}

function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, "").toLowerCase();
}

/**
 * A missing Origin is a non-browser client (allowed); a browser's Origin must be listed. With an empty list every
 * origin is allowed: tokens are never ambient credentials (no cookies), so a foreign page cannot act as a user.
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined || allowed.length === 0) return true;
  const normalized = normalizeOrigin(origin);
  return allowed.some((entry) => entry === "*" || normalizeOrigin(entry) === normalized);
}

/** The token of the handshake: `Authorization: Bearer` or `?access_token=`; null when present but not a bearer token. */
export function handshakeToken(req: IncomingMessage, url: URL): string | null | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1] ?? null;
  }
  const query = url.searchParams.get("access_token");
  return query === null || query === "" ? undefined : query;
}

/** Everything checked before the upgrade: path, drain, origin, and the token when one is given (bad → 401). */
export async function admitUpgrade(req: IncomingMessage, options: HandshakeOptions): Promise<UpgradeDecision> {
  // A request line can carry an absolute target that is no URL at all ("http://["): refused, never thrown.
  const url = parseTarget(req.url);
  if (url === undefined) return refusal("invalid_request", "The request target is not a valid URL.");
  if (url.pathname !== WS_PATH) return refusal("not_found");
  if (options.isDraining()) return refusal("node_restarting");
  if (!originAllowed(req.headers.origin, options.allowedOrigins)) return refusal("origin_not_allowed");
  // Counted before the token is verified: a flood of handshakes costs one Redis call each, never a signature check.
  const retryAfterMs = await options.handshakes.consume(options.clientAddress);
  if (retryAfterMs !== undefined) return { ok: false, code: "rate_limited", message: "Too many connection attempts from this address.", retryAfterMs };
  const token = handshakeToken(req, url);
  if (token === undefined) return { ok: true, identity: undefined };
  if (token === null) {
    options.metrics.authFailures.inc({ reason: "malformed" });
    return refusal("invalid_token", "The Authorization header must be `Bearer <token>`.");
  }
  const outcome = await authenticate(options.verifier, token, options.metrics, options.logger);
  if (!outcome.ok) return refusal(outcome.code, outcome.message);
  return { ok: true, identity: outcome.identity };
}

function parseTarget(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? "/", "http://edge.invalid");
  } catch {
    return undefined;
  }
}

function refusal(code: ErrorCode, message: string = ERRORS[code].message): UpgradeDecision {
  return { ok: false, code, message };
}

/** Answers the upgrade request with a plain HTTP error, its status from the one error table (never a WebSocket). */
export function refuseUpgrade(socket: Duplex, code: ErrorCode, message: string = ERRORS[code].message, retryAfterMs?: number): void {
  if (socket.destroyed) return;
  const status = ERRORS[code].status;
  const body = JSON.stringify({ error: { code, message, ...(retryAfterMs === undefined ? {} : { retry_after_ms: retryAfterMs }) } });
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
    "Connection: close",
    "Content-Type: application/json; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(status === 401 ? ['WWW-Authenticate: Bearer error="invalid_token"'] : []),
    ...(status === 503 ? ["Retry-After: 1"] : []),
    ...(retryAfterMs === undefined ? [] : [`Retry-After: ${Math.max(1, Math.ceil(retryAfterMs / 1000))}`]),
  ];
  socket.end(`${headers.join("\r\n")}\r\n\r\n${body}`);
}
