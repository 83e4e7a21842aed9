import { RETENTION_SCHEDULER_ID } from "@parley/bus";
import { schema } from "@parley/db";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkerNode } from "../src/worker-node";
import { WorkerHarness } from "./support/worker-harness";

let harness: WorkerHarness;
let node: WorkerNode;
const DAY = 86_400_000;

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
    expect(result).toEqual({ hot: 20, archived: 10, cutoff: new Date(now.getTime() - 30 * DAY).toISOString() });

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

  it("runs on RETENTION_CRON through one fleet-wide job scheduler", async () => {
    const schedulers = await node.queues.retention.getJobSchedulers();
    expect(schedulers.map((s) => [s.key, s.pattern])).toEqual([[RETENTION_SCHEDULER_ID, "30 3 * * *"]]);
  });
});
