/**
 * The three systems bench/fanout compares, each started as child processes on the local PostgreSQL (a fresh
 * database each) and Redis (a key prefix each): Parley's real cluster, the Socket.IO + PostgreSQL reference, and
 * the bare ws + Redis relay. Each hands the load generator its groups (members spread over its two nodes).
 */
import { createTokenIssuer } from "@parley/auth";
import { apiEnv, edgeEnv, loadConfig, workerEnv } from "@parley/config";
import { migrate, migrationsFingerprint } from "@parley/db";
import { createTestDatabase, startAppProcess, type AppProcess, type TestDatabase } from "@parley/testing";
import { SignJWT } from "jose";
import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { REFERENCE_SCHEMA } from "../../fanout/reference/src/schema";
import { JsonClient } from "../json-client";
import type { ClientSpec, GroupSpec, ProtocolKind } from "./workload";

export const TARGET_NAMES = ["parley", "parley-baseline", "socketio", "relay"] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export const TARGET_LABELS: Readonly<Record<TargetName, string>> = {
  parley: "Parley (edges + API + worker)",
  "parley-baseline": "Parley baseline (--baseline-root: the same cluster from another checkout)",
  socketio: "Socket.IO 4 + redis-adapter + INSERT (reference)",
  relay: "bare ws + Redis relay (no auth, no persistence)",
};

/** The repository root of this checkout. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const BENCH_DIR = path.join(REPO_ROOT, "bench");
const JWT_SECRET = `bench-fanout-${randomBytes(24).toString("hex")}`;
/** Edges reach the API over the internal channel, as `pnpm start` sets it up; `--parley-env INTERNAL_SECRET=` turns it off. */
const INTERNAL_SECRET = `bench-internal-${randomBytes(24).toString("hex")}`;
/** High enough that no limit is reached during a run; every limit is still counted on every request. */
const UNREACHED_LIMIT = "100000000";
const TOKEN_TTL_MS = 4 * 60 * 60 * 1000;
const SETUP_CONCURRENCY = 16;

export interface FanoutTarget {
  readonly name: TargetName;
  readonly protocol: ProtocolKind;
  /** Processes whose CPU counts as "nodes" (API, edges, worker / the two servers). */
  nodePids(): number[];
  /** The node that takes every idle connection. */
  readonly idleNodePid: number;
  /** The idle node's Prometheus /metrics (Parley's edges): its heap and external memory are logged beside the RSS. */
  readonly idleNodeMetricsUrl?: string;
  /** Parley's API /metrics: the bench reads its group-commit batch sizes per step. */
  readonly apiMetricsUrl?: string;
  /** The target's database (for its backends' CPU and its commits); undefined without persistence. */
  readonly database: string | undefined;
  /** Creates the users and `groups` conversations of `size` members (slot n on node n % 2). */
  createGroups(groups: number, size: number): Promise<GroupSpec[]>;
  /** `count` further users, every one connecting to the first node. */
  idleClients(count: number): Promise<ClientSpec[]>;
  close(): Promise<void>;
}

export interface TargetOptions {
  readonly redisUrl: string;
  /** Parley only: REDIS_URL names a Redis Cluster's seeds (REDIS_CLUSTER=true). */
  readonly redisCluster: boolean;
  /** Parley only: API nodes (edge n talks to API n mod apiNodes) and edges (group member n on edge n mod edges). */
  readonly apiNodes: number;
  readonly edges: number;
  readonly runId: string;
  /** Parley only: added to the environment of every Parley process (later ones win). */
  readonly parleyEnv: Readonly<Record<string, string>>;
  /** Parley only: the checkout whose apps/ run (default: this one). */
  readonly parleyRoot: string;
  /** The parley-baseline target's checkout (`--baseline-root`): Parley before a change, run in the same process tree. */
  readonly baselineRoot: string | undefined;
  /** Parley only: each process writes a .cpuprofile into this directory when it exits. */
  readonly cpuProfileDir: string | undefined;
}

const CPU_PROFILE_HOOK = fileURLToPath(new URL("../cpu-profile-hook.ts", import.meta.url));

/** Environment that makes a Parley process profile itself (NODE_OPTIONS refuses --cpu-prof). */
function profiling(dir: string | undefined, name: string): Record<string, string> {
  if (dir === undefined) return {};
  return {
    BENCH_CPU_PROF_DIR: dir,
    BENCH_CPU_PROF_NAME: name,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import tsx --import ${CPU_PROFILE_HOOK}`.trim(),
  };
}

/** Runs `task` over `items` with at most `limit` at a time, keeping their order in the result. */
async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i]!, i);
      }
    }),
  );
  return out;
}

function pidOf(app: AppProcess): number {
  if (app.pid === undefined) throw new Error(`${app.name} has no pid`);
  return app.pid;
}

/** Stops every process and then drops the database, whatever failed before. */
async function closeAll(apps: readonly (AppProcess | undefined)[], database: TestDatabase | undefined): Promise<void> {
  await Promise.all(apps.filter((app): app is AppProcess => app !== undefined).map((app) => app.stop()));
  await database?.drop();
}

export async function startTarget(name: TargetName, options: TargetOptions): Promise<FanoutTarget> {
  switch (name) {
    case "parley":
      return startParley(options, "parley", options.parleyRoot);
    case "parley-baseline":
      if (options.baselineRoot === undefined) throw new Error("the parley-baseline target needs --baseline-root DIR (a checkout with its dependencies installed)");
      return startParley(options, "parley-baseline", options.baselineRoot);
    case "socketio":
      return startReference(options);
    case "relay":
      return startRelay(options);
  }
}

async function startParley(options: TargetOptions, name: "parley" | "parley-baseline", root: string): Promise<FanoutTarget> {
  const prefix = `bench-fanout:${options.runId}:${name}:`;
  let database: TestDatabase | undefined;
  const apps: (AppProcess | undefined)[] = [];
  try {
    database = await createTestDatabase({ migrate, templateKey: migrationsFingerprint() });
    const common: Record<string, string> = {
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
      PARLEY_POLICY: "open",
      REDIS_URL: options.redisUrl,
      REDIS_CLUSTER: String(options.redisCluster),
      REDIS_KEY_PREFIX: prefix,
      JWT_SECRET,
      INTERNAL_SECRET,
      MESSAGE_RATE_LIMIT: UNREACHED_LIMIT,
      REQUEST_RATE_LIMIT: UNREACHED_LIMIT,
      IP_REQUEST_RATE_LIMIT: UNREACHED_LIMIT,
      // Thousands of sockets and users from one address: the per-address limits (#13) stay out of the way.
      HANDSHAKE_RATE_LIMIT: UNREACHED_LIMIT,
      REGISTER_RATE_LIMIT: UNREACHED_LIMIT,
    };
    const appDir = (app: string) => path.join(root, "apps", app);
    const databaseUrl = database.url;
    const apiEnvironments = Array.from({ length: options.apiNodes }, (_, i) => ({
      ...common,
      NODE_ID: i === 0 ? "bench-api" : `bench-api-${i + 1}`,
      DATABASE_URL: databaseUrl,
      ...profiling(options.cpuProfileDir, i === 0 ? `${name}-api` : `${name}-api-${i + 1}`),
      ...options.parleyEnv,
    }));
    // Fails here, naming the variable, rather than as a child that exits before it is ready.
    for (const env of apiEnvironments) loadConfig(apiEnv, env);
    const apiStarts = await Promise.allSettled(apiEnvironments.map((env, i) => startAppProcess({ name: i === 0 ? "api" : `api-${i + 1}`, cwd: appDir("api"), env, readyTimeoutMs: 90_000 })));
    const apis = apiStarts.map((outcome) => (outcome.status === "fulfilled" ? outcome.value : undefined));
    apps.push(...apis);
    const apiFailure = apiStarts.find((outcome) => outcome.status === "rejected");
    if (apiFailure) throw apiFailure.reason;
    const api = apis[0]!;
    // No user has an e-mail address: the worker never needs its SMTP server.
    const workerEnvironment = {
      ...common,
      NODE_ID: "bench-worker",
      DATABASE_URL: database.url,
      SMTP_URL: "smtp://127.0.0.1:1",
      ...profiling(options.cpuProfileDir, `${name}-worker`),
      ...options.parleyEnv,
    };
    loadConfig(workerEnv, workerEnvironment);
    const edgeEnvironments = Array.from({ length: options.edges }, (_, i) => i + 1).map((n) => ({
      ...common,
      NODE_ID: `bench-edge-${n}`,
      API_URL: apis[(n - 1) % apis.length]!.url,
      ...profiling(options.cpuProfileDir, `${name}-edge-${n}`),
      ...options.parleyEnv,
    }));
    for (const env of edgeEnvironments) loadConfig(edgeEnv, env);
    // Every start is recorded as it settles, so a failure of one still stops the others.
    const started = await Promise.allSettled([
      ...edgeEnvironments.map((env, i) => startAppProcess({ name: `edge-${i + 1}`, cwd: appDir("edge"), env, readyTimeoutMs: 90_000 })),
      startAppProcess({ name: "worker", cwd: appDir("worker"), env: workerEnvironment, readyTimeoutMs: 90_000 }),
    ]);
    const values = started.map((outcome) => (outcome.status === "fulfilled" ? outcome.value : undefined));
    apps.push(...values);
    const failure = started.find((outcome) => outcome.status === "rejected");
    if (failure) throw failure.reason;
    const edges = values.slice(0, options.edges).map((edge) => edge!);

    const client = new JsonClient(api.url);
    // Signed with the secret the cluster runs with, which --parley-env may have replaced.
    const issuer = createTokenIssuer({ secret: options.parleyEnv.JWT_SECRET ?? JWT_SECRET, ttlMs: TOKEN_TTL_MS });
    const edgeUrls = edges.map((edge) => `ws://127.0.0.1:${edge.port}/v1/ws`);
    const newUsers = async (count: number, label: string) =>
      mapLimit(Array.from({ length: count }, (_, i) => i), SETUP_CONCURRENCY, async (i) => {
        const sub = randomUUID();
        const { token } = await issuer.issue({ sub, role: "user", name: `${label} ${i}` });
        return { id: sub, token };
      });
    const db = database;
    return {
      name,
      protocol: "parley",
      nodePids: () => apps.filter((app): app is AppProcess => app !== undefined).map(pidOf),
      idleNodePid: pidOf(edges[0]!),
      idleNodeMetricsUrl: `${edges[0]!.opsUrl}/metrics`,
      apiMetricsUrl: `${api.opsUrl}/metrics`,
      database: database.name,
      async createGroups(groups, size) {
        const users = await newUsers(groups * size, "member");
        // A user exists from its first use of a token; groups may only name existing users.
        await mapLimit(users, SETUP_CONCURRENCY, (user) => client.expect([200], "GET", "/v1/users/me", user.token));
        return mapLimit(Array.from({ length: groups }, (_, g) => g), SETUP_CONCURRENCY, async (g) => {
          const members = users.slice(g * size, (g + 1) * size);
          const created = await client.expect([201], "POST", "/v1/conversations", members[0]!.token, {
            type: "group",
            title: `fanout ${g}`,
            participant_ids: members.slice(1).map((member) => member.id),
          });
          return {
            conversationId: (created.body as { id: string }).id,
            members: members.map((member, slot) => ({ url: edgeUrls[slot % edgeUrls.length]!, token: member.token })),
          };
        });
      },
      async idleClients(count) {
        const users = await newUsers(count, "idle");
        return users.map((user) => ({ url: edgeUrls[0]!, token: user.token }));
      },
      close: () => closeAll(apps, db),
    };
  } catch (error) {
    await closeAll(apps, database);
    throw error;
  }
}

async function signReferenceToken(secret: Uint8Array, sub: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setIssuedAt().setExpirationTime(`${TOKEN_TTL_MS / 1000}s`).sign(secret);
}

async function startReference(options: TargetOptions): Promise<FanoutTarget> {
  const prefix = `bench-fanout:${options.runId}:socketio:`;
  let database: TestDatabase | undefined;
  const nodes: (AppProcess | undefined)[] = [];
  try {
    database = await createTestDatabase();
    const sql = postgres(database.url, { max: 1, onnotice: () => undefined });
    try {
      await sql.unsafe(REFERENCE_SCHEMA);
    } finally {
      await sql.end();
    }
    const env = { DATABASE_URL: database.url, REDIS_URL: options.redisUrl, REDIS_KEY_PREFIX: prefix, JWT_SECRET, NODE_ENV: "production" };
    const cwd = path.join(BENCH_DIR, "fanout", "reference");
    nodes.push(...(await Promise.all([1, 2].map((n) => startAppProcess({ name: `socketio-${n}`, cwd, env, readyTimeoutMs: 60_000 })))));
    const urls = nodes.map((node) => node?.url ?? "");
    const secret = new TextEncoder().encode(JWT_SECRET);
    const db = database;
    return {
      name: "socketio",
      protocol: "socketio",
      nodePids: () => nodes.filter((node): node is AppProcess => node !== undefined).map(pidOf),
      idleNodePid: pidOf(nodes[0]!),
      database: database.name,
      async createGroups(groups, size) {
        const out: GroupSpec[] = [];
        const rows: { user_id: string; conversation_id: string }[] = [];
        for (let g = 0; g < groups; g++) {
          const conversationId = randomUUID();
          const members: ClientSpec[] = [];
          for (let slot = 0; slot < size; slot++) {
            const userId = randomUUID();
            rows.push({ user_id: userId, conversation_id: conversationId });
            members.push({ url: urls[slot % urls.length]!, token: await signReferenceToken(secret, userId) });
          }
          out.push({ conversationId, members });
        }
        const writer = postgres(db.url, { max: 1, onnotice: () => undefined });
        try {
          for (let i = 0; i < rows.length; i += 1000) await writer`INSERT INTO ref_members ${writer(rows.slice(i, i + 1000))}`;
        } finally {
          await writer.end();
        }
        return out;
      },
      async idleClients(count) {
        return Promise.all(Array.from({ length: count }, async () => ({ url: urls[0]!, token: await signReferenceToken(secret, randomUUID()) })));
      },
      close: () => closeAll(nodes, db),
    };
  } catch (error) {
    await closeAll(nodes, database);
    throw error;
  }
}

async function startRelay(options: TargetOptions): Promise<FanoutTarget> {
  const prefix = `bench-fanout:${options.runId}:relay:`;
  const nodes: (AppProcess | undefined)[] = [];
  try {
    const env = { REDIS_URL: options.redisUrl, REDIS_KEY_PREFIX: prefix, NODE_ENV: "production" };
    const cwd = path.join(BENCH_DIR, "fanout", "relay");
    nodes.push(...(await Promise.all([1, 2].map((n) => startAppProcess({ name: `relay-${n}`, cwd, env, readyTimeoutMs: 60_000 })))));
    const urls = nodes.map((node) => `ws://127.0.0.1:${node?.port ?? 0}/`);
    return {
      name: "relay",
      protocol: "relay",
      nodePids: () => nodes.filter((node): node is AppProcess => node !== undefined).map(pidOf),
      idleNodePid: pidOf(nodes[0]!),
      database: undefined,
      createGroups(groups, size) {
        return Promise.resolve(
          Array.from({ length: groups }, (_, g) => ({
            conversationId: `g${g}`,
            members: Array.from({ length: size }, (_, slot) => ({ url: `${urls[slot % urls.length]!}?room=g${g}`, token: "" })),
          })),
        );
      },
      idleClients(count) {
        return Promise.resolve(Array.from({ length: count }, () => ({ url: `${urls[0]!}?room=idle`, token: "" })));
      },
      close: () => closeAll(nodes, undefined),
    };
  } catch (error) {
    await closeAll(nodes, undefined);
    throw error;
  }
}
