import { z } from "zod";
import { parseDuration } from "./duration";
import { duration, integer, list, logLevel, port, url } from "./fields";

const postgresUrl = url(["postgres:", "postgresql:"], "must be a postgres:// URL");
const redisUrl = url(["redis:", "rediss:"], "must be a redis:// or rediss:// URL");
/** REDIS_URL: one URL, or (with REDIS_CLUSTER=true) seed nodes of a cluster, comma-separated. */
const redisUrls = z.string().refine((text) => text.split(",").every((item) => redisUrl.safeParse(item.trim()).success), "must be a redis:// or rediss:// URL, or (with REDIS_CLUSTER=true) several, comma-separated");
const httpUrl = url(["http:", "https:"], "must be an http:// or https:// URL");

/** Variables every node reads. */
export const commonEnv = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  LOG_LEVEL: logLevel,
  /** Identifies this node in metrics, logs, `/v1/stats` and cross-node messages; defaults to a random id. */
  NODE_ID: z.string().regex(/^[\w.-]{1,64}$/, "must be 1-64 letters, digits, '.', '_' or '-'").optional(),
  /** Prefixes every Redis key and channel, so several deployments (or test files) can share one Redis. */
  REDIS_KEY_PREFIX: z.string().regex(/^[\w:.-]{0,64}$/, "must be at most 64 letters, digits, ':', '.', '_' or '-'").default("parley:"),
  REDIS_URL: redisUrls.default("redis://127.0.0.1:6379"),
  /** `true`: REDIS_URL names seed nodes of a Redis Cluster (sharded pub/sub, every multi-key command in one slot). */
  REDIS_CLUSTER: z.enum(["true", "false"], { message: "must be true or false" }).default("false").transform((text) => text === "true"),
  /** A user whose last connection closed less than this long ago still shows as present (no flapping on reconnect). */
  PRESENCE_GRACE_MS: duration("5s"),
});

/** EMAIL_CONFIRMATION: `required` sends a confirmation link and mails only confirmed addresses; `off` trusts any address. */
const emailConfirmation = z.enum(["required", "off"]).default("required");

/** NOTIFY_CONTENT: how much of the messages an offline e-mail shows; unset, the policy preset decides (clinic: none). */
const notifyContent = z.enum(["full", "sender", "none"]).optional();

export const databaseEnv = z.object({
  DATABASE_URL: postgresUrl.default("postgres://postgres@127.0.0.1:5432/parley"),
  DATABASE_POOL_SIZE: integer(10, 1, 200),
});

const jwtFields = z.object({
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  JWT_PUBLIC_KEY: z.string().includes("BEGIN PUBLIC KEY", { message: "must be a PEM public key (SPKI)" }).optional(),
  JWT_PRIVATE_KEY: z.string().includes("BEGIN PRIVATE KEY", { message: "must be a PEM private key (PKCS#8)" }).optional(),
  JWKS_URL: httpUrl.optional(),
  JWT_ALGORITHMS: list().pipe(z.array(z.enum(["HS256", "RS256", "ES256"], { message: "algorithms must be HS256, RS256 or ES256" }))),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  JWT_CLOCK_TOLERANCE: duration("30s"),
  ACCESS_TOKEN_TTL: duration("12h"),
});

/** Verification needs exactly one key source: a shared secret, a public key, or a JWKS URL. */
function requireOneKeySource(env: { JWT_SECRET?: string | undefined; JWT_PUBLIC_KEY?: string | undefined; JWKS_URL?: string | undefined }, ctx: z.RefinementCtx) {
  const sources = [env.JWT_SECRET, env.JWT_PUBLIC_KEY, env.JWKS_URL].filter((value) => value !== undefined);
  if (sources.length !== 1) {
    ctx.addIssue({
      code: "custom",
      path: ["JWT_SECRET"],
      message: "set exactly one of JWT_SECRET, JWT_PUBLIC_KEY or JWKS_URL",
    });
  }
}

/** A JWKS is usually a shared identity provider's: without both checks, tokens it issued for other applications pass. */
function requireIssuerAndAudienceWithJwks(env: { JWKS_URL?: string | undefined; JWT_ISSUER?: string | undefined; JWT_AUDIENCE?: string | undefined }, ctx: z.RefinementCtx) {
  if (env.JWKS_URL === undefined) return;
  for (const variable of ["JWT_ISSUER", "JWT_AUDIENCE"] as const) {
    if (env[variable] === undefined) ctx.addIssue({ code: "custom", path: [variable], message: "is required with JWKS_URL (a shared identity provider signs tokens for other applications too)" });
  }
}

function checkKeys(env: z.infer<typeof jwtFields>, ctx: z.RefinementCtx): void {
  requireOneKeySource(env, ctx);
  requireIssuerAndAudienceWithJwks(env, ctx);
}

export const jwtEnv = jwtFields.superRefine(checkKeys);

/**
 * Which proxies' X-Forwarded-For to believe: true, false, a hop count, or a comma-separated list of addresses/subnets
 * or the names loopback, linklocal, uniquelocal (Express "trust proxy" syntax). docs/OPERATIONS.md "Client addresses".
 */
const trustProxy = (fallback: string) =>
  z
    .string()
    .regex(/^[\w.:/, -]+$/, "must be true, false, a hop count, or a list of addresses, subnets or loopback/linklocal/uniquelocal")
    .default(fallback)
    .transform((text): boolean | number | string => (text === "true" ? true : text === "false" ? false : /^\d+$/.test(text) ? Number(text) : text));

/**
 * The shared secret of the internal edge→API channel (docs/ARCHITECTURE.md): an edge that presents it may act for
 * the users it has verified. Unset on either side, edges call the public REST API with each user's token instead.
 */
const internalSecret = z.string().min(32, "must be at least 32 characters").optional();

export const apiEnv = z
  .object({
    ...commonEnv.shape,
    ...databaseEnv.shape,
    ...jwtFields.shape,
    PORT: port(3000),
    /** `/metrics` (and the probes again) on a port of its own, kept off the public one; 0 picks a free port. */
    OPS_PORT: port(9400),
    /** Browser origins allowed to call the REST API (CORS); empty allows any origin, since tokens are never cookies. */
    ALLOWED_ORIGINS: list(),
    PARLEY_POLICY: z.string().min(1).default("open"),
    MESSAGE_RATE_LIMIT: integer(100, 1),
    /** REST requests one user may make per minute (every endpoint). */
    REQUEST_RATE_LIMIT: integer(1200, 1),
    /** REST requests one client address may make per minute, before authentication. */
    IP_REQUEST_RATE_LIMIT: integer(3000, 1),
    MAX_MESSAGE_LENGTH: integer(4000, 1, 1_000_000),
    MAX_BODY_BYTES: integer(256 * 1024, 1024),
    EMAIL_DELAY: duration("2m"),
    /** Group commit: how long a send waits for others to share its transaction when none is being written (0: never waits). */
    SEND_BATCH_WINDOW: duration("2ms"),
    /** Group commit: sends written by one transaction at most. */
    SEND_BATCH_MAX: integer(64, 1, 1_000),
    /** Group commit: batches written at the same time, each on its own database connection. */
    SEND_BATCHES_IN_FLIGHT: integer(2, 1, 32),
    PUBLIC_APP_URL: httpUrl.default("http://localhost:3000"),
    /** Registrations one client address may make per minute (each costs an argon2id hash). */
    REGISTER_RATE_LIMIT: integer(60, 1),
    /** Failed logins for one account from all addresses in 15 minutes before it is throttled (10 from one address). */
    LOGIN_FAILURES_PER_ACCOUNT: integer(50, 1),
    EMAIL_CONFIRMATION: emailConfirmation,
    /** How long an e-mail confirmation link stays valid. */
    EMAIL_CONFIRMATION_TTL: duration("48h"),
    /**
     * Whose X-Forwarded-For the API believes: the edges and load balancers in front of it, nobody else. Loopback by
     * default (a local cluster); list the edges' and proxies' subnets in production.
     */
    TRUST_PROXY: trustProxy("loopback"),
    INTERNAL_SECRET: internalSecret,
  })
  .superRefine(checkKeys);

export const edgeEnv = z
  .object({
    ...commonEnv.shape,
    ...jwtFields.shape,
    PORT: port(3001),
    /** `/metrics` (and the probes again) on a port of its own, kept off the public one; 0 picks a free port. */
    OPS_PORT: port(9401),
    API_URL: httpUrl.default("http://127.0.0.1:3000"),
    ALLOWED_ORIGINS: list(),
    MAX_CONNECTIONS_PER_USER: integer(5, 1),
    MESSAGE_RATE_LIMIT: integer(100, 1),
    MAX_PAYLOAD_BYTES: integer(64 * 1024, 256),
    HEARTBEAT_MS: duration("30s"),
    AUTH_TIMEOUT_MS: duration("5s"),
    DRAIN_SPREAD_MS: duration("10s"),
    SLOW_CONSUMER_BYTES: integer(1024 * 1024, 1024),
    /** WebSocket handshakes one client address may start per minute on this cluster. */
    HANDSHAKE_RATE_LIMIT: integer(300, 1),
    /** Whose X-Forwarded-For the edge believes for a client's address (the load balancer in front); none by default. */
    TRUST_PROXY: trustProxy("false"),
    INTERNAL_SECRET: internalSecret,
  })
  .superRefine(checkKeys);

function cron(fallback: string) {
  return z
    .string()
    .regex(/^\S+(\s+\S+){4,5}$/, "must be a cron pattern of 5 or 6 fields")
    .default(fallback);
}

export const workerEnv = z.object({
  ...commonEnv.shape,
  ...databaseEnv.shape,
  PORT: port(3100),
  SMTP_URL: url(["smtp:", "smtps:"], "must be an smtp:// or smtps:// URL").default("smtp://127.0.0.1:1025"),
  EMAIL_FROM: z.string().min(3).default("Parley <no-reply@parley.local>"),
  PUBLIC_APP_URL: httpUrl.default("http://localhost:3000"),
  EMAIL_DELAY: duration("2m"),
  ARCHIVE_AFTER: duration("90d"),
  /** Conversations one archival run handles at most; the next scheduled run continues. */
  ARCHIVE_MAX_PER_RUN: integer(1000, 1),
  ARCHIVE_CRON: cron("0 3 * * *"),
  PARLEY_POLICY: z.string().min(1).default("open"),
  EMAIL_CONFIRMATION: emailConfirmation,
  NOTIFY_CONTENT: notifyContent,
  /** Messages older than this are purged (content gone, tombstone kept); unset or `off`: kept for ever. */
  MESSAGE_RETENTION: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text === "" || text === "off") return undefined;
      const ms = parseDuration(text);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: "custom", message: "must be off or a positive duration such as 365d" });
        return z.NEVER;
      }
      return ms;
    }),
  /** Messages one purge pass tombstones per statement; a run loops until nothing older is left. */
  RETENTION_BATCH_SIZE: integer(1000, 1, 100_000),
  RETENTION_CRON: cron("30 3 * * *"),
});

/** NOTIFY_CONTENT unset: presets that carry health data show nothing of the messages. */
export function notifyContentFor(configured: "full" | "sender" | "none" | undefined, policy: string): "full" | "sender" | "none" {
  return configured ?? (policy === "clinic" ? "none" : "full");
}

export type CommonConfig = z.infer<typeof commonEnv>;
export type ApiConfig = z.infer<typeof apiEnv>;
export type EdgeConfig = z.infer<typeof edgeEnv>;
export type WorkerConfig = z.infer<typeof workerEnv>;
export type JwtConfig = z.infer<typeof jwtFields>;
