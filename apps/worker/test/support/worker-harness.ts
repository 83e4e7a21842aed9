import { EMAIL_JOB_NAME, emailJobOptions, PresenceStore, type EmailJobData } from "@parley/bus";
import { loadConfig, workerEnv, type Clock, type WorkerConfig } from "@parley/config";
import { createDb, migrate, migrationsFingerprint, schema, type Database } from "@parley/db";
import { createLogger, type Logger } from "@parley/observability";
import { ManualClock, StoresHarness, TestStores } from "@parley/testing";
import type { Job } from "bullmq";
import { and, eq, sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { Writable } from "node:stream";
import { uuidv7 } from "uuidv7";
import { createWorkerNode, type WorkerNode, type WorkerNodeOptions } from "../../src/worker-node";
import { SmtpInbox } from "@parley/testing/smtp-inbox";

export const TEST_EMAIL_DELAY_MS = 300;
export const TEST_APP_URL = "https://app.parley.test";

/** A clock the test moves by hand; it stands still in between, so rows written at `now()` compare equal to it. */
export class TestClock extends ManualClock implements Clock {
  set(at: Date): void {
    this.setTo(at);
  }
}

/** Logs go nowhere unless PARLEY_TEST_LOGS is set: tests assert on mails and rows, not log lines. */
export function testLogger(name: string): Logger {
  if (process.env.PARLEY_TEST_LOGS) return createLogger({ name, level: "debug" });
  return createLogger({ name, level: "warn", destination: new Writable({ write: (_chunk, _enc, done) => done() }) });
}

/** Real PostgreSQL, Redis and SMTP for one test file, worker nodes on top, and direct-SQL seeding. */
export class WorkerHarness extends StoresHarness {
  private counter = 0;
  readonly db: Database;
  readonly presence: PresenceStore;

  /**
   * `stores`: the database and Redis prefix, and everything started on them (nodes, clients, the SMTP inbox).
   * `client`: a plain client on the test Redis (presence registrations, stream reads).
   */
  private constructor(
    stores: TestStores,
    readonly smtp: SmtpInbox,
    readonly env: Readonly<Record<string, string>>,
    readonly client: Redis,
  ) {
    super(stores);
    this.db = stores.started(createDb(stores.database.url, { max: 4 }), (db) => db.close());
    this.presence = new PresenceStore({ redis: client, keyPrefix: stores.redis.prefix });
  }

  static async start(env: Record<string, string> = {}): Promise<WorkerHarness> {
    const [stores, smtp] = await Promise.all([TestStores.create("worker", { migrate, templateKey: migrationsFingerprint() }), SmtpInbox.start()]);
    const { database, redis } = stores;
    stores.started(smtp, () => smtp.close());
    const baseEnv = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: redis.prefix,
      SMTP_URL: smtp.url,
      PUBLIC_APP_URL: TEST_APP_URL,
      EMAIL_DELAY: `${TEST_EMAIL_DELAY_MS}ms`,
      LOG_LEVEL: "warn",
      PORT: "0",
      ...env,
    };
    const client = stores.started(new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 2 }), (started) => started.disconnect());
    await client.connect();
    return new WorkerHarness(stores, smtp, baseEnv, client);
  }

  /** A started worker node (several may run at once); e-mail retries back off from 50 ms. */
  async startNode(options: WorkerNodeOptions = {}, env: Record<string, string> = {}): Promise<WorkerNode> {
    const config = this.configWith(env);
    const node = this.stores.started(createWorkerNode(config, { logger: testLogger("worker-test"), emailRetryBaseMs: 50, port: 0, ...options }), (started) => started.close(), { together: true });
    await node.start();
    return node;
  }

  configWith(env: Record<string, string> = {}): WorkerConfig {
    return loadConfig(workerEnv, { ...this.env, ...env });
  }

  // ---- seeding, straight into the tables the API writes

  /** A user; an address is confirmed unless `confirmed: false` (EMAIL_CONFIRMATION). */
  async user(options: { name?: string; email?: string | null; notifications?: boolean; confirmed?: boolean } = {}): Promise<{ id: string; email: string | null; name: string }> {
    const id = uuidv7();
    const n = ++this.counter;
    const name = options.name ?? `User ${n}`;
    const email = options.email === undefined ? `user${n}.${id.slice(-6)}@example.test` : options.email;
    await this.db.db.insert(schema.users).values({
      id,
      username: `u${n}x${id.slice(-8)}`,
      displayName: name,
      role: "user",
      email,
      emailConfirmedAt: email !== null && options.confirmed !== false ? new Date() : null,
      emailNotifications: options.notifications ?? true,
    });
    return { id, email, name };
  }

  async conversation(memberIds: readonly string[], options: { title?: string; lastActivityAt?: Date } = {}): Promise<string> {
    const id = uuidv7();
    await this.db.db.insert(schema.conversations).values({
      id,
      type: "group",
      title: options.title ?? `Group ${++this.counter}`,
      createdBy: memberIds[0] ?? null,
      ...(options.lastActivityAt === undefined ? {} : { lastActivityAt: options.lastActivityAt, createdAt: options.lastActivityAt }),
    });
    await this.db.db.insert(schema.participants).values(memberIds.map((userId, i) => ({ conversationId: id, userId, role: i === 0 ? ("owner" as const) : ("member" as const) })));
    return id;
  }

  /** Appends a message the way the API does: next seq under the row lock, activity, read for the sender. */
  async message(conversationId: string, senderId: string | null, content: string, at?: Date): Promise<{ id: string; seq: number }> {
    const id = uuidv7();
    return this.db.db.transaction(async (tx) => {
      const [row] = await tx
        .update(schema.conversations)
        .set({ lastSeq: sql`${schema.conversations.lastSeq} + 1`, lastMessageId: id, lastActivityAt: at ?? sql`now()` })
        .where(eq(schema.conversations.id, conversationId))
        .returning({ seq: schema.conversations.lastSeq });
      if (!row) throw new Error(`no conversation ${conversationId}`);
      await tx.insert(schema.messages).values({ id, conversationId, seq: row.seq, senderId, content, ...(at === undefined ? {} : { createdAt: at }) });
      if (senderId !== null) {
        await tx
          .update(schema.participants)
          .set({ lastReadSeq: row.seq })
          .where(and(eq(schema.participants.conversationId, conversationId), eq(schema.participants.userId, senderId)));
      }
      return { id, seq: row.seq };
    });
  }

  /** Many messages in one statement (seqs 1..count), for archival batches. */
  async bulkMessages(conversationId: string, senderId: string, count: number, at: Date): Promise<void> {
    await this.db.db.transaction(async (tx) => {
      await tx.execute(sql`
        INSERT INTO ${schema.messages} (id, conversation_id, seq, sender_id, content, created_at)
        SELECT gen_random_uuid(), ${conversationId}, g, ${senderId}, 'bulk message ' || g, ${at.toISOString()}::timestamptz + g * interval '1 second'
        FROM generate_series(1, ${count}::int) AS g`);
      await tx.execute(sql`
        UPDATE ${schema.conversations} SET last_seq = ${count}::int, last_activity_at = ${at.toISOString()}::timestamptz + ${count}::int * interval '1 second',
          last_message_id = (SELECT id FROM ${schema.messages} WHERE conversation_id = ${conversationId} AND seq = ${count}::int)
        WHERE id = ${conversationId}`);
    });
  }

  async markRead(conversationId: string, userId: string, upToSeq: number): Promise<void> {
    await this.db.db
      .update(schema.participants)
      .set({ lastReadSeq: upToSeq })
      .where(and(eq(schema.participants.conversationId, conversationId), eq(schema.participants.userId, userId)));
  }

  async setMuted(conversationId: string, userId: string, muted: boolean): Promise<void> {
    await this.db.db
      .update(schema.participants)
      .set({ muted })
      .where(and(eq(schema.participants.conversationId, conversationId), eq(schema.participants.userId, userId)));
  }

  /** What the API's EmailScheduler does after publishing a new_message: one delayed job per recipient. */
  async enqueueEmail(node: WorkerNode, data: EmailJobData, delayMs = TEST_EMAIL_DELAY_MS): Promise<Job> {
    return node.queues.email.add(EMAIL_JOB_NAME, data, emailJobOptions(data, delayMs));
  }

  async emailLog(userId: string, conversationId: string): Promise<{ fromSeq: number; toSeq: number }[]> {
    return this.db.db
      .select({ fromSeq: schema.emailLog.fromSeq, toSeq: schema.emailLog.toSeq })
      .from(schema.emailLog)
      .where(and(eq(schema.emailLog.userId, userId), eq(schema.emailLog.conversationId, conversationId)))
      .orderBy(schema.emailLog.fromSeq);
  }

  /** Marks the user connected on an edge, as the edge's presence registration does. */
  async connect(userId: string): Promise<void> {
    await this.presence.register({ userId, connectionId: uuidv7(), node: "edge-test" }, 5);
  }
}
