import type { TokenVerifier } from "@parley/auth";
import type { Logger } from "@parley/observability";
import type { ErrorCode } from "@parley/protocol";
import { ERRORS } from "@parley/protocol";
import { STATUS_CODES, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { authenticate } from "./authentication";
import type { Identity } from "./connection";
import type { EdgeMetrics } from "./metrics";

export const WS_PATH = "/v1/ws";

export type UpgradeDecision =
  | { readonly ok: true; readonly identity: Identity | undefined }
  | { readonly ok: false; readonly status: number; readonly code: ErrorCode; readonly message: string };

export interface HandshakeOptions {
  readonly allowedOrigins: readonly string[];
  readonly verifier: TokenVerifier;
  readonly metrics: EdgeMetrics;
  readonly logger: Logger;
  readonly isDraining: () => boolean;
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
  if (url === undefined) return refusal(400, "invalid_request", "The request target is not a valid URL.");
  if (url.pathname !== WS_PATH) return refusal(404, "not_found");
  if (options.isDraining()) return refusal(503, "node_restarting");
  if (!originAllowed(req.headers.origin, options.allowedOrigins)) return refusal(403, "origin_not_allowed");
  const token = handshakeToken(req, url);
  if (token === undefined) return { ok: true, identity: undefined };
  if (token === null) {
    options.metrics.authFailures.inc({ reason: "malformed" });
    return refusal(401, "invalid_token", "The Authorization header must be `Bearer <token>`.");
  }
  const outcome = await authenticate(options.verifier, token, options.metrics, options.logger);
  if (!outcome.ok) return refusal(ERRORS[outcome.code].status, outcome.code, outcome.message);
  return { ok: true, identity: outcome.identity };
}

function parseTarget(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? "/", "http://edge.invalid");
  } catch {
    return undefined;
  }
}

function refusal(status: number, code: ErrorCode, message: string = ERRORS[code].message): UpgradeDecision {
  return { ok: false, status, code, message };
}

/** Answers the upgrade request with a plain HTTP error (the socket never becomes a WebSocket). */
export function refuseUpgrade(socket: Duplex, status: number, code: ErrorCode, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: { code, message } });
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
    "Connection: close",
    "Content-Type: application/json; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(status === 401 ? ['WWW-Authenticate: Bearer error="invalid_token"'] : []),
    ...(status === 503 ? ["Retry-After: 1"] : []),
  ];
  socket.end(`${headers.join("\r\n")}\r\n\r\n${body}`);
}
