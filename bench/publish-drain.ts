/**
 * Publishing throughput against the number of API nodes (issue #12): a backlog of committed, unpublished outbox rows
 * (what a Redis outage or a crashed node leaves behind) drained by 1, 2, 3... API nodes sweeping the outbox's
 * partitions in parallel. Each trial: a fresh migrated database, N real API processes, `--events` rows committed in
 * one transaction (each a `new_message` for `--recipients` users with their unread counters, as a send writes it),
 * then the time until every row is published, the CPU of the API nodes, Redis and PostgreSQL over that time, and a
 * check that every recipient's stream holds each event exactly once. Trials alternate node counts over `--rounds`
 * in one process tree, so a busy machine slows all alike; compare the ratios.
 *
 *   pnpm --filter @parley/bench drain -- [--nodes 1,2,3] [--events 30000] [--recipients 10] [--rounds 2]
 *     [--redis-cluster] [--name publish-drain]
 *
 * Results go to results/<name>.json and a markdown table on stdout.
 */
import { busKeys } from "@parley/bus";
import { apiEnv, loadConfig } from "@parley/config";
import { migrate, migrationsFingerprint } from "@parley/db";
import { createTestDatabase, startAppProcess, waitFor, type AppProcess, type TestDatabase } from "@parley/testing";
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { Redis, Cluster } from "ioredis";
import { API_DIR } from "./src/api-fixture";
import { startBenchRedis, type BenchRedis } from "./src/fanout/bench-redis";
import { processCpuMicros } from "./src/fanout/resource-usage";
import { benchArgs } from "./src/cli-args";


const HERE = path.dirname(fileURLToPath(import.meta.url));
const JWT_SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789";

const args = benchArgs({
  nodes: { type: "string", default: "1,2,3" },
  events: { type: "string", default: "30000" },
  recipients: { type: "string", default: "10" },
  rounds: { type: "string", default: "2" },
  "redis-cluster": { type: "boolean", default: false },
  name: { type: "string", default: "publish-drain" },
});

const settings = {
  nodes: args.nodes.split(",").map(Number),
  events: Number(args.events),
  recipients: Number(args.recipients),
  rounds: Number(args.rounds),
  redisCluster: args["redis-cluster"],
};
if (settings.nodes.some((n) => !Number.isInteger(n) || n < 1) || !(settings.events > 0) || !(settings.recipients > 0) || !(settings.rounds > 0)) {
  throw new Error("--nodes takes positive integers, --events, --recipients and --rounds positive numbers");
}

interface Trial {
  readonly nodes: number;
  readonly round: number;
  readonly seconds: number;
  readonly events_per_s: number;
  /** Stream appends per second: each event once per recipient, plus each recipient's unread_count companion. */
  readonly appends_per_s: number;
  readonly cpu_cores: { readonly api: number; readonly redis: number; readonly postgres: number };
  readonly cpu_us_per_event: number;
  readonly streams_exact: boolean;
}

/** The users of a trial: the recipients of event i are users (i·r .. i·r + r-1) mod 2000, so every stream gets appends. */
const USERS = 2000;

async function seedBacklog(sql: postgres.Sql, events: number, recipients: number): Promise<void> {
  // 2,000 conversations: the rows spread over every partition of the sweep, as real traffic does.
  await sql`
    INSERT INTO outbox (recipients, event, conversation_id, unread)
    SELECT r.recipients,
      jsonb_build_object('type', 'new_message', 'conversation_id', c.id, 'message', jsonb_build_object(
        'id', gen_random_uuid(), 'conversation_id', c.id, 'seq', i, 'sender_id', r.recipients[1], 'type', 'text',
        'content', 'backlog message ' || i, 'reply_to', null, 'attachments', '[]'::jsonb,
        'created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'edited_at', null, 'deleted', false)),
      c.id,
      (SELECT jsonb_agg(jsonb_build_object('u', u, 'n', 1, 't', 1)) FROM unnest(r.recipients[2:]) AS u)
    FROM generate_series(1, ${events}) AS i
    CROSS JOIN LATERAL (SELECT ARRAY(SELECT 'u' || ((i * ${recipients} + k) % ${USERS}) FROM generate_series(0, ${recipients - 1}) AS k) AS recipients) AS r
    CROSS JOIN LATERAL (SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i % 2000), 12, '0'))::uuid AS id) AS c`;
}

async function postgresBackendCpu(admin: postgres.Sql, database: string): Promise<number> {
  const rows = await admin<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname = ${database}`;
  let total = 0;
  for (const { pid } of rows) total += processCpuMicros(pid) ?? 0;
  return total;
}

async function streamLengths(redis: Redis | Cluster, prefix: string): Promise<number[]> {
  const lengths: number[] = [];
  for (let u = 0; u < USERS; u += 200) {
    const pipeline = redis.pipeline();
    for (let k = u; k < Math.min(USERS, u + 200); k++) pipeline.xlen(busKeys(prefix).userStream(`u${k}`));
    for (const [error, length] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      lengths.push(Number(length));
    }
  }
  return lengths;
}

/** How many appends each user's stream should hold: every event they receive, plus a companion unless they sent it. */
function expectedLengths(events: number, recipients: number): number[] {
  const lengths = new Array<number>(USERS).fill(0);
  for (let i = 1; i <= events; i++) {
    for (let k = 0; k < recipients; k++) {
      const user = (i * recipients + k) % USERS;
      lengths[user] = (lengths[user] ?? 0) + (k === 0 ? 1 : 2);
    }
  }
  return lengths;
}

async function trial(nodes: number, round: number, redis: BenchRedis, admin: postgres.Sql): Promise<Trial> {
  const prefix = `drain:${randomUUID().slice(0, 8)}:`;
  let database: TestDatabase | undefined;
  const apis: AppProcess[] = [];
  const client = settings.redisCluster ? new Cluster([redis.url]) : new Redis(redis.url);
  try {
    database = await createTestDatabase({ migrate, templateKey: migrationsFingerprint() });
    const common = {
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
      PARLEY_POLICY: "open",
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      REDIS_CLUSTER: String(settings.redisCluster),
      REDIS_KEY_PREFIX: prefix,
      JWT_SECRET,
    };
    for (let n = 0; n < nodes; n++) loadConfig(apiEnv, { ...common, NODE_ID: `drain-api-${n + 1}` });
    apis.push(...(await Promise.all(Array.from({ length: nodes }, (_, n) => startAppProcess({ name: `api-${n + 1}`, cwd: API_DIR, env: { ...common, NODE_ID: `drain-api-${n + 1}` }, readyTimeoutMs: 90_000 })))));
    const sql = postgres(database.url, { max: 2, onnotice: () => undefined });
    try {
      const backlog = async () => (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`)[0]?.n ?? 0;
      const cpu = async () => ({
        api: apis.reduce((sum, app) => sum + (app.pid === undefined ? 0 : (processCpuMicros(app.pid) ?? 0)), 0),
        redis: redis.pids.reduce((sum, pid) => sum + (processCpuMicros(pid) ?? 0), 0),
        postgres: await postgresBackendCpu(admin, database?.name ?? ""),
      });
      const before = await cpu();
      const start = performance.now();
      // One transaction: the whole backlog becomes visible to the sweeps at once.
      await seedBacklog(sql, settings.events, settings.recipients);
      const seeded = performance.now();
      await waitFor(async () => (await backlog()) === 0, { timeout: 600_000, interval: 50, message: "the backlog drained" });
      const seconds = (performance.now() - seeded) / 1000;
      const after = await cpu();
      const lengths = await streamLengths(client, prefix);
      const expected = expectedLengths(settings.events, settings.recipients);
      const exact = lengths.every((length, i) => length === expected[i]);
      const appends = expected.reduce((a, b) => a + b, 0);
      const apiMicros = after.api - before.api;
      const redisMicros = after.redis - before.redis;
      const postgresMicros = after.postgres - before.postgres;
      const wall = (performance.now() - start) / 1000;
      return {
        nodes,
        round,
        seconds: round3(seconds),
        events_per_s: round3(settings.events / seconds),
        appends_per_s: round3(appends / seconds),
        cpu_cores: { api: round3(apiMicros / 1e6 / wall), redis: round3(redisMicros / 1e6 / wall), postgres: round3(postgresMicros / 1e6 / wall) },
        cpu_us_per_event: round3((apiMicros + redisMicros + postgresMicros) / settings.events),
        streams_exact: exact,
      };
    } finally {
      await sql.end();
    }
  } finally {
    await Promise.all(apis.map((app) => app.stop()));
    client.disconnect();
    await database?.drop();
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function print(line = ""): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const redis = await startBenchRedis(undefined, settings.redisCluster);
  const admin = postgres(process.env.BENCH_ADMIN_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres", { max: 1, onnotice: () => undefined });
  const loadBefore = loadavg();
  const trials: Trial[] = [];
  try {
    for (let round = 1; round <= settings.rounds; round++) {
      for (const nodes of settings.nodes) {
        const result = await trial(nodes, round, redis, admin);
        trials.push(result);
        print(
          `round ${round}, ${nodes} API node(s): ${result.events_per_s.toFixed(0)} events/s (${result.appends_per_s.toFixed(0)} stream appends/s) in ${result.seconds} s; ` +
            `cores API ${result.cpu_cores.api}, Redis ${result.cpu_cores.redis}, PostgreSQL ${result.cpu_cores.postgres}; streams exact: ${result.streams_exact}`,
        );
      }
    }
  } finally {
    await admin.end();
    await redis.close();
  }
  const best = (nodes: number) => Math.max(...trials.filter((t) => t.nodes === nodes).map((t) => t.events_per_s));
  const one = best(settings.nodes[0] ?? 1);
  const summary = settings.nodes.map((nodes) => ({ nodes, best_events_per_s: best(nodes), ratio_to_first: round3(best(nodes) / one) }));
  const result = { name: args.name, finished_at: new Date().toISOString(), machine: { loadavg_before: loadBefore, loadavg_after: loadavg() }, settings, trials, summary };
  writeFileSync(path.join(HERE, "results", `${args.name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  print(`\n| API nodes | best events/s | × ${settings.nodes[0]} node(s) | streams exact in every trial |\n|---|---|---|---|`);
  for (const row of summary) {
    print(`| ${row.nodes} | ${row.best_events_per_s.toFixed(0)} | ${row.ratio_to_first.toFixed(2)} | ${trials.filter((t) => t.nodes === row.nodes).every((t) => t.streams_exact)} |`);
  }
  if (!trials.every((t) => t.streams_exact)) process.exitCode = 1;
}

await main();
