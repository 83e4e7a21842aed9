import { pino } from "pino";
import type { IncomingMessage } from "node:http";
import { serializeError } from "./error-serializer";

export type Logger = pino.Logger;

export interface LoggerOptions {
  /** The service name, written as `service` on every line. */
  readonly name: string;
  readonly level?: string;
  /** Written as `node` on every line so logs from several replicas can be told apart. */
  readonly nodeId?: string;
  /** Where lines go; stdout when omitted (tests pass a stream to capture them). */
  readonly destination?: pino.DestinationStream;
}

const CENSOR = "[redacted]";

/** Paths whose values never reach a log line, wherever a caller puts them. */
export const REDACTED_PATHS: readonly string[] = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["set-cookie"]',
  "req.query.access_token",
  "req.body.password",
  "res.headers['set-cookie']",
  "headers.authorization",
  "headers.cookie",
  "query.access_token",
  "body.password",
  "body.token",
  "authorization",
  "cookie",
  "token",
  "access_token",
  "accessToken",
  "refresh_token",
  "refreshToken",
  "password",
  "secret",
  "JWT_SECRET",
  "JWT_PRIVATE_KEY",
  "INTERNAL_SECRET",
  "*.password",
  "*.token",
  "*.access_token",
  "*.accessToken",
  "*.refresh_token",
  "*.authorization",
  "*.secret",
  "*.JWT_SECRET",
  "*.INTERNAL_SECRET",
  "*.JWT_PRIVATE_KEY",
];

const TOKEN_QUERY_PARAM = /([?&](?:access_token|refresh_token|token)=)[^&#]*/gi;

/** Replaces the value of `access_token` (and `token`, `refresh_token`) query parameters with [redacted]. */
export function redactUrlTokens(url: string): string {
  return url.replace(TOKEN_QUERY_PARAM, `$1${CENSOR}`);
}

function isIncomingMessage(value: object): value is IncomingMessage {
  return "socket" in value && "headers" in value && "method" in value;
}

/** Serializes a request (a raw http request or an already-serialized object) without tokens in its URL. */
function serializeRequest(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const serialized: Record<string, unknown> = isIncomingMessage(value)
    ? { ...(pino.stdSerializers.req(value) as unknown as Record<string, unknown>) }
    : { ...(value as Record<string, unknown>) };
  if (typeof serialized.url === "string") serialized.url = redactUrlTokens(serialized.url);
  if (typeof serialized.originalUrl === "string") serialized.originalUrl = redactUrlTokens(serialized.originalUrl);
  return serialized;
}

function serializeUrl(value: unknown): unknown {
  return typeof value === "string" ? redactUrlTokens(value) : value;
}

/** Serializers to hand to pino-http (which replaces the logger's own `req` serializer) or to a child logger. */
export const logSerializers = {
  req: serializeRequest,
  url: serializeUrl,
  err: serializeError,
};

/** A JSON logger with ISO timestamps, service/node fields and secrets redacted. */
export function createLogger(options: LoggerOptions): Logger {
  const config: pino.LoggerOptions = {
    level: options.level ?? "info",
    base: options.nodeId === undefined ? { service: options.name } : { service: options.name, node: options.nodeId },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...REDACTED_PATHS], censor: CENSOR },
    serializers: logSerializers,
  };
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}
