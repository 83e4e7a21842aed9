import { RETENTION_SCHEDULER_ID } from "@parley/bus";
import { recountOfParticipant, schema } from "@parley/db";
import { systemClock } from "@parley/config";
import { createLogger } from "@parley/observability";
import { and, eq, isNull, sql } from "drizzle-orm";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { Purger } from "../src/jobs/retention/purger";
import { retentionByType } from "../src/jobs/retention/retention-policy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkerNode } from "../src/worker-node";
import { WorkerHarness } from "./support/worker-harness";

let harness: WorkerHarness;
let node: WorkerNode;
const DAY = 86_400_000;
const silent = createLogger({ name: "retention-test", level: "warn", destination: new Writable({ write: (_chunk, _enc, done) => done() }) });

beforeAll(async () => {
  harness = await WorkerHarness.start({ MESSAGE_RETENTION: "30d", RETENTION_BATCH_SIZE: "7" });
  node = await harness.startNode();
});

afterAll(async () => {
  await harness.close();
});

/** Every message of a conversation (hot and archived), in seq order. */
async function rows(conversationId: string) {
  const result = await harness.db.db.execute<{ seq: number; content: string; deleted: boolean; created_at: string }>(sql`
    SELECT seq, content, deleted_at IS NOT NULL AS deleted, created_at FROM ${schema.messages} WHERE conversation_id = ${conversationId}
    UNION ALL SELECT seq, content, deleted_at IS NOT NULL, created_at FROM ${schema.archivedMessages} WHERE conversation_id = ${conversationId}
    ORDER BY seq`);
  return [...result];
}

describe("MESSAGE_RETENTION purge", () => {
  it("leaves no message older than the retention with content, hot or archived, in bounded batches; seqs stay gap-free as tombstones", async () => {
    const now = new Date();
    const [a, b] = [await harness.user(), await harness.user()];
    const hot = await harness.conversation([a.id, b.id]);
    await harness.bulkMessages(hot, a.id, 20, new Date(now.getTime() - 40 * DAY));
    for (let i = 0; i < 3; i++) await harness.message(hot, b.id, `recent ${i}`);
    const cold = await harness.conversation([a.id, b.id]);
    await harness.bulkMessages(cold, a.id, 10, new Date(now.getTime() - 100 * DAY));
    // As the archiver leaves them: moved to archive storage.
    await harness.db.db.execute(sql`WITH moved AS (DELETE FROM ${schema.messages} WHERE conversation_id = ${cold} RETURNING id, conversation_id, seq, sender_id, type, content, client_msg_id, reply_to, attachments, created_at, edited_at, deleted_at)
      INSERT INTO ${schema.archivedMessages} (id, conversation_id, seq, sender_id, type, content, client_msg_id, reply_to, attachments, created_at, edited_at, deleted_at) SELECT * FROM moved`);

    const result = await node.purger.run(now);
    const cutoff30 = new Date(now.getTime() - 30 * DAY).toISOString();
    expect(result).toEqual({ hot: 20, archived: 10, cutoffs: { direct: cutoff30, group: cutoff30, support: cutoff30 } });

    const hotRows = await rows(hot);
    expect(hotRows.map((r) => r.seq)).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
    expect(hotRows.slice(0, 20).every((r) => r.deleted && r.content === "")).toBe(true);
    expect(hotRows.slice(20).map((r) => [r.content, r.deleted])).toEqual([
      ["recent 0", false],
      ["recent 1", false],
      ["recent 2", false],
    ]);
    const coldRows = await rows(cold);
    expect(coldRows.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(coldRows.every((r) => r.deleted && r.content === "")).toBe(true);

    const cutoff = new Date(now.getTime() - 30 * DAY).toISOString();
    const left = await harness.db.db.execute<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM (SELECT content, created_at FROM ${schema.messages} UNION ALL SELECT content, created_at FROM ${schema.archivedMessages}) m
      WHERE m.created_at < ${cutoff}::timestamptz AND m.content <> ''`);
    expect(left[0]?.n).toBe(0);

    // A second run finds nothing left; the metric counts each message once.
    expect(await node.purger.run(now)).toMatchObject({ hot: 0, archived: 0 });
    const metrics = await node.registry.metrics();
    expect(metrics).toMatch(/^parley_messages_purged_total\{[^}]*storage="hot"[^}]*\} 20$/m);
    expect(metrics).toMatch(/^parley_messages_purged_total\{[^}]*storage="archived"[^}]*\} 10$/m);
  });

  it("takes purged messages out of the unread counters (counters equal a recount) and tells each reader their new count", async () => {
    const now = new Date();
    const [a, b, c] = [await harness.user(), await harness.user(), await harness.user()];
    const first = await harness.conversation([a.id, b.id, c.id]);
    await harness.bulkMessages(first, a.id, 12, new Date(now.getTime() - 60 * DAY));
    for (let i = 0; i < 2; i++) await harness.message(first, a.id, `fresh ${i}`);
    const second = await harness.conversation([b.id, a.id]);
    await harness.bulkMessages(second, b.id, 3, new Date(now.getTime() - 60 * DAY));
    await harness.markRead(first, b.id, 5);
    await harness.setMuted(second, a.id, true);
    // The API keeps the counters; this harness seeds rows directly, so they start from a recount.
    const p = schema.participants;
    const members = and(isNull(p.leftAt), sql`${p.conversationId} IN (${first}, ${second})`);
    await harness.db.db.update(p).set({ unreadCount: recountOfParticipant }).where(members);
    const counters = () => harness.db.db.select({ c: p.conversationId, u: p.userId, counter: p.unreadCount, recount: recountOfParticipant }).from(p).where(members);
    expect((await counters()).filter((row) => row.counter > 0)).toHaveLength(3);

    await node.purger.run(now);
    const after = await counters();
    expect(after.every((row) => row.counter === row.recount)).toBe(true);
    const counterOf = (conversationId: string, userId: string) => after.find((row) => row.c === conversationId && row.u === userId)?.counter;
    // Only the two fresh messages are left to read; the muted conversation's purge leaves a with nothing unread.
    expect([counterOf(first, b.id), counterOf(first, c.id), counterOf(second, a.id)]).toEqual([2, 2, 0]);

    const events = await harness.db.db.select({ recipients: schema.outbox.recipients, event: schema.outbox.event }).from(schema.outbox).where(sql`${schema.outbox.event}->>'type' = 'unread_count'`);
    const last = (userId: string, conversationId: string) => events.filter((e) => e.recipients.includes(userId) && e.event.conversation_id === conversationId).at(-1)?.event;
    expect(last(b.id, first)).toMatchObject({ unread_count: 2, total: 2 });
    expect(last(c.id, first)).toMatchObject({ unread_count: 2, total: 2 });
    expect(last(a.id, second)).toMatchObject({ unread_count: 0, total: 0 });
  });

  it("follows a policy file's per-type retention: direct conversations 7 days, groups kept for ever", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "parley-policy-"));
    const file = path.join(dir, "policy.json");
    writeFileSync(file, JSON.stringify({ name: "custom", retention: { direct: "7d", group: "off" } }));
    const retention = retentionByType(30 * DAY, file);
    expect(retention).toEqual({ direct: 7 * DAY, group: undefined, support: 30 * DAY });
    const purger = new Purger({ database: harness.db, clock: systemClock, logger: silent, metrics: node.metrics, retention, batchSize: 100 });
    const now = new Date();
    const [a, b] = [await harness.user(), await harness.user()];
    const group = await harness.conversation([a.id, b.id]);
    await harness.bulkMessages(group, a.id, 3, new Date(now.getTime() - 400 * DAY));
    const direct = await harness.conversation([a.id, b.id]);
    await harness.db.db.update(schema.conversations).set({ type: "direct", directKey: `${a.id}:${b.id}:${direct}` }).where(eq(schema.conversations.id, direct));
    await harness.bulkMessages(direct, a.id, 4, new Date(now.getTime() - 10 * DAY));
    expect(await purger.run(now)).toMatchObject({ hot: 4, archived: 0 });
    expect((await rows(group)).every((r) => !r.deleted)).toBe(true);
    expect((await rows(direct)).every((r) => r.deleted && r.content === "")).toBe(true);
    expect(() => retentionByType(DAY, path.join(dir, "missing.json"))).toThrow();
  });

  it("runs on RETENTION_CRON through one fleet-wide job scheduler", async () => {
    const schedulers = await node.queues.retention.getJobSchedulers();
    expect(schedulers.map((s) => [s.key, s.pattern])).toEqual([[RETENTION_SCHEDULER_ID, "30 3 * * *"]]);
  });
});
