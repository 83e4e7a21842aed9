import { conversation, message, page, type Message } from "@parley/protocol";
import { ensureDatabase, migrate } from "@parley/db";
import { requestJson, resolveServices, startAppProcess, waitFor, type AppProcess, type JsonAnswer } from "@parley/testing";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { OwnPostgres, postgresBinaries } from "./support/own-postgres";
import { TEST_APP_URL, WorkerHarness } from "./support/worker-harness";

// The API and the worker as real processes: a driver defect that throws from a timer (porsager/postgres#1154,
// #1208) kills the process, which an in-process harness would report as a failed test instead.
const JWT_SECRET = "worker-test-secret-that-is-long-enough-0123456789";
const EMAIL_DELAY = "300ms";
const ROUNDS = 6;
const LANES = 4;

let harness: WorkerHarness;
let api: AppProcess;
let worker: AppProcess;

interface Account {
  readonly id: string;
  readonly token: string;
  readonly email: string;
}

function call(method: string, path: string, token: string | undefined, body?: unknown): Promise<JsonAnswer> {
  return requestJson(method, `${api.url}${path}`, { token, body, signal: AbortSignal.timeout(10_000) });
}

async function register(name: string): Promise<Account> {
  const username = `${name.toLowerCase()}x${Math.random().toString(36).slice(2, 9)}`;
  const email = `${username}@example.test`;
  const response = await call("POST", "/v1/auth/register", undefined, { username, password: "correct horse battery", display_name: name, role: "user", email });
  expect(response.status).toBe(201);
  const registered = z.object({ user: z.object({ id: z.string() }), access_token: z.string() }).parse(response.body);
  return { id: registered.user.id, token: registered.access_token, email };
}

/** Sends until acknowledged, retrying the same client_msg_id after any failure (as the SDK's outbox does). */
async function sendUntilAcked(sender: Account, conversationId: string, clientMsgId: string, deadline: number): Promise<Message> {
  // A refusal or a reset while the API lost its database connections is retried (waitFor polls until the deadline).
  return waitFor(
    async () => {
      const response = await call("POST", `/v1/conversations/${conversationId}/messages`, sender.token, { client_msg_id: clientMsgId, content: `message ${clientMsgId}` });
      return response.status === 201 || response.status === 200 ? message.parse(response.body) : undefined;
    },
    { timeout: Math.max(0, deadline - Date.now()), interval: 50, message: `${clientMsgId} was never acknowledged` },
  );
}

async function history(reader: Account, conversationId: string): Promise<Message[]> {
  const items: Message[] = [];
  let afterSeq = 0;
  for (;;) {
    const response = await call("GET", `/v1/conversations/${conversationId}/messages?after_seq=${afterSeq}&limit=200`, reader.token);
    expect(response.status).toBe(200);
    const received = page(message).parse(response.body);
    items.push(...received.items);
    if (received.next_cursor === null) return items;
    afterSeq = Number(received.next_cursor);
  }
}

function alive(process: AppProcess): Promise<boolean> {
  return Promise.race([process.exited.then(() => false), new Promise<boolean>((resolve) => setImmediate(() => resolve(true)))]);
}

/** Starts the API and the worker as processes on `databaseUrl` (the harness's own test database unless given). */
async function startNodes(databaseUrl?: string): Promise<void> {
  harness = await WorkerHarness.start({ EMAIL_DELAY, EMAIL_CONFIRMATION: "off", ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl }) });
  const shared = { DATABASE_URL: harness.env.DATABASE_URL!, REDIS_URL: harness.env.REDIS_URL!, REDIS_KEY_PREFIX: harness.env.REDIS_KEY_PREFIX!, LOG_LEVEL: "warn", NODE_ENV: "test" };
  api = await startAppProcess({
    name: "api",
    cwd: fileURLToPath(new URL("../../api", import.meta.url)),
    env: { ...shared, JWT_SECRET, EMAIL_DELAY, PUBLIC_APP_URL: TEST_APP_URL, PARLEY_POLICY: "open", EMAIL_CONFIRMATION: "off", MESSAGE_RATE_LIMIT: "100000", REGISTER_RATE_LIMIT: "100000" },
  });
  worker = await startAppProcess({
    name: "worker",
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env: { ...shared, SMTP_URL: harness.env.SMTP_URL!, PUBLIC_APP_URL: TEST_APP_URL, EMAIL_DELAY, EMAIL_CONFIRMATION: "off" },
  });
}

async function stopNodes(): Promise<void> {
  await Promise.all([api.stop(), worker.stop()]);
  await harness.close();
}

/**
 * Sends from LANES lanes without pause while `fault` hits PostgreSQL ROUNDS times (after each round the API must
 * acknowledge sends again); then both processes must be alive, every acknowledged message stored once, and the
 * worker must still mail an offline recipient about a message sent after one more fault.
 */
async function survivesUnderLoad(fault: () => Promise<void>): Promise<void> {
  const alice = await register("Alice");
  const bob = await register("Bob");
  const created = await call("POST", "/v1/conversations", alice.token, { type: "direct", participant_ids: [bob.id] });
  expect(created.status).toBe(201);
  const conversationId = conversation.parse(created.body).id;

  const deadline = Date.now() + 90_000;
  const acked = new Map<string, Message>();
  let stop = false;
  let sent = 0;
  const lane = async (laneId: number) => {
    for (let i = 0; !stop; i++) {
      const clientMsgId = `lane${laneId}-${i}`;
      acked.set(clientMsgId, await sendUntilAcked(alice, conversationId, clientMsgId, deadline));
      sent++;
    }
  };
  const lanes = Array.from({ length: LANES }, (_, laneId) => lane(laneId));

  let died: AppProcess | undefined;
  for (const process of [api, worker]) void process.exited.then(() => (died ??= process));

  for (let round = 0; round < ROUNDS; round++) {
    const before = sent;
    // Progress between rounds: the API has reconnected and acknowledged sends since the last termination.
    await waitFor(() => sent >= before + 5 || died !== undefined, { timeout: 30_000, message: `no acknowledged send after round ${round}` });
    if (died !== undefined) throw new Error(`${died.name} died after round ${round}:\n${died.output()}`);
    await fault();
  }
  await waitFor(() => sent >= ROUNDS * 5 + 20 || died !== undefined, { timeout: 30_000, message: "sends stalled after the last round" });
  stop = true;
  if (died !== undefined) throw new Error(`${died.name} died:\n${died.output()}`);
  await Promise.all(lanes);

  expect(await alive(api), `the API died:\n${api.output()}`).toBe(true);
  expect(await alive(worker), `the worker died:\n${worker.output()}`).toBe(true);

  // Nothing acknowledged is lost or stored twice, and every seq is used once.
  const stored = (await history(alice, conversationId)).filter((m) => m.type !== "system");
  // Each send's content names its client_msg_id: one stored message per acknowledged send, the one acknowledged.
  const byContent = new Map(stored.map((m) => [m.content, m]));
  expect(byContent.size).toBe(stored.length);
  expect(stored).toHaveLength(acked.size);
  for (const [clientMsgId, ack] of acked) expect(byContent.get(`message ${clientMsgId}`)?.id, clientMsgId).toBe(ack.id);
  expect(new Set(stored.map((m) => m.seq)).size).toBe(stored.length);

  // The worker still reaches its database: a message sent now brings Bob (offline) an e-mail about it.
  const mailsBefore = harness.smtp.to(bob.email).length;
  await fault();
  await sendUntilAcked(alice, conversationId, "after-the-faults", Date.now() + 30_000);
  await waitFor(() => harness.smtp.to(bob.email).some((mail) => (mail.text ?? "").includes("message after-the-faults")), {
    timeout: 30_000,
    message: `no e-mail after the faults (${mailsBefore} before):\n${worker.output()}`,
  });
  expect(await alive(worker), `the worker died:\n${worker.output()}`).toBe(true);
}

describe("PostgreSQL ends the API's and the worker's connections under a steady send load (pg_terminate_backend)", () => {
  let admin: postgres.Sql;
  beforeAll(async () => {
    admin = postgres((await resolveServices()).adminDatabaseUrl, { max: 1, onnotice: () => undefined });
    await startNodes();
  });
  afterAll(async () => {
    await stopNodes();
    await admin.end();
  });

  it("both processes live on, every acknowledged message is stored once, and sends and e-mails work afterwards", async () => {
    await survivesUnderLoad(async () => {
      // Every connection to this file's database but the one asking (what a failover does to the nodes).
      const ended = await admin<{ pid: number }[]>`
        SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE datname = ${harness.database.name} AND pid <> pg_backend_pid()`;
      expect(ended.length).toBeGreaterThan(0);
    });
  }, 180_000);
});

// A server of this file's own: the shared one is never restarted.
describe.skipIf(postgresBinaries() === undefined)("PostgreSQL restarts under a steady send load (pg_ctl restart -m fast)", () => {
  let server: OwnPostgres | undefined;
  beforeAll(async () => {
    server = await OwnPostgres.start();
    const url = server.url("parley");
    await ensureDatabase(url);
    await migrate(url);
    await startNodes(url);
  }, 120_000);
  afterAll(async () => {
    await stopNodes();
    await server?.stop();
  });

  it("both processes live on, every acknowledged message is stored once, and sends and e-mails work afterwards", async () => {
    await survivesUnderLoad(async () => {
      await server?.restart();
    });
  }, 240_000);
});
