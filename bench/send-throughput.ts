/**
 * The persisted path alone: `MessageService.send` called in-process by N concurrent senders (no HTTP, no client
 * process), each with its own direct conversation, against a fresh migrated database. Measures sends/s and the
 * process's CPU per send, alternating two API checkouts in one process tree (A/B, back to back).
 *
 *   pnpm --filter @parley/bench exec tsx send-throughput.ts [--a DIR] [--b DIR] [--rounds 2] [--concurrency 8]
 *     [--sends 300] [--name send-throughput]
 *
 * --a and --b are apps/api directories (default: both this checkout's); results go to results/<name>.json.
 */
import { apiEnv, loadConfig } from "@parley/config";
import { migrate, migrationsFingerprint } from "@parley/db";
import { createTestDatabase, createTestRedis } from "@parley/testing";
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { API_DIR } from "./src/api-fixture";
import { benchArgs } from "./src/cli-args";


const HERE = path.dirname(fileURLToPath(import.meta.url));

const args = benchArgs({
  a: { type: "string" },
  b: { type: "string" },
  rounds: { type: "string", default: "2" },
  concurrency: { type: "string", default: "8" },
  sends: { type: "string", default: "300" },
  name: { type: "string", default: "send-throughput" },
});

interface Actor {
  readonly id: string;
  readonly role: string;
  readonly exp: number;
}
interface ApiNodeLike {
  readonly services: { messages: { send(actor: Actor, conversationId: string, body: object): Promise<unknown> } };
  readonly database: { sql: (strings: TemplateStringsArray, ...values: unknown[]) => Promise<unknown> };
  close(): Promise<void>;
}
type CreateApiNode = (options: { config: unknown }) => Promise<ApiNodeLike>;

async function runOnce(apiDir: string, concurrency: number, sends: number) {
  const [database, redis] = await Promise.all([createTestDatabase({ migrate, templateKey: migrationsFingerprint() }), createTestRedis("bench-tp")]);
  const module = (await import(pathToFileURL(path.join(apiDir, "src/api-node.ts")).href)) as { createApiNode: CreateApiNode };
  const config = loadConfig(apiEnv, {
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: redis.prefix,
    JWT_SECRET: "bench-secret-that-is-long-enough-for-hs256-0123456789",
    MESSAGE_RATE_LIMIT: "100000000",
  });
  const node = await module.createApiNode({ config });
  try {
    const pairs = Array.from({ length: concurrency }, () => ({ sender: randomUUID(), recipient: randomUUID(), conversation: randomUUID() }));
    for (const pair of pairs) {
      await node.database.sql`INSERT INTO users (id, username, display_name, role) VALUES (${pair.sender}, ${pair.sender}, 'S', 'user'), (${pair.recipient}, ${pair.recipient}, 'R', 'user')`;
      await node.database.sql`INSERT INTO conversations (id, type, direct_key) VALUES (${pair.conversation}, 'direct', ${`${pair.sender}:${pair.recipient}`})`;
      await node.database.sql`INSERT INTO participants (conversation_id, user_id) VALUES (${pair.conversation}, ${pair.sender}), (${pair.conversation}, ${pair.recipient})`;
    }
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const send = (pair: (typeof pairs)[number], i: number) =>
      node.services.messages.send({ id: pair.sender, role: "user", exp }, pair.conversation, { client_msg_id: randomUUID(), content: `message ${i}`, type: "text", attachments: [] });
    // Warm-up: prepared statements, JIT, pools.
    await Promise.all(pairs.map(async (pair) => { for (let i = 0; i < 30; i++) await send(pair, i); }));
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await Promise.all(pairs.map(async (pair) => { for (let i = 0; i < sends; i++) await send(pair, i); }));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const total = concurrency * sends;
    return { sends_per_s: Math.round(total / seconds), cpu_us_per_send: Math.round((cpu.user + cpu.system) / total), seconds: Number(seconds.toFixed(2)) };
  } finally {
    await node.close();
    await Promise.all([database.drop(), redis.cleanup()]);
  }
}

const a = args.a === undefined ? API_DIR : path.resolve(args.a);
const b = args.b === undefined ? API_DIR : path.resolve(args.b);
const concurrency = Number(args.concurrency);
const sends = Number(args.sends);
const runs: { label: string; dir: string; sends_per_s: number; cpu_us_per_send: number; seconds: number; loadavg: number }[] = [];
for (let round = 0; round < Number(args.rounds); round++) {
  for (const [label, dir] of [["a", a], ["b", b]] as const) {
    const result = await runOnce(dir, concurrency, sends);
    runs.push({ label, dir: path.relative(HERE, dir), ...result, loadavg: Number((loadavg()[0] ?? 0).toFixed(1)) });
    process.stdout.write(`${label} (${path.relative(HERE, dir)}): ${result.sends_per_s} sends/s, ${result.cpu_us_per_send} µs CPU per send (this process), ${result.seconds} s\n`);
  }
}
writeFileSync(path.join(HERE, "results", `${args.name}.json`), `${JSON.stringify({ name: args.name, finished_at: new Date().toISOString(), concurrency, sends, runs }, null, 2)}\n`);
