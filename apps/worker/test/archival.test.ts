import { ARCHIVAL_JOB_NAME, ARCHIVAL_SCHEDULER_ID } from "@parley/bus";
import { createDb, schema, type Database } from "@parley/db";
import { conversationEvent, type Conversation } from "@parley/protocol";
import { waitFor } from "@parley/testing";
import { asc, count, eq, inArray, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Archiver } from "../src/jobs/archival/archiver";
import { createWorkerMetrics } from "../src/metrics";
import { Registry } from "prom-client";
import { TestClock, testLogger, WorkerHarness } from "./support/worker-harness";

const DAY = 86_400_000;
let harness: WorkerHarness;
const extraDbs: Database[] = [];

beforeAll(async () => {
  harness = await WorkerHarness.start({ ARCHIVE_AFTER: "90d" });
});

afterAll(async () => {
  await Promise.all(extraDbs.map((db) => db.close()));
  await harness.close();
});

/** `conversation_updated` events in the outbox about these conversations, by conversation id. */
async function updatedEvents(conversationIds: readonly string[]): Promise<{ recipients: string[]; conversation: Conversation }[]> {
  const rows = await harness.db.db.select().from(schema.outbox).orderBy(asc(schema.outbox.id));
  return rows.flatMap((row) => {
    const event = conversationEvent.parse(row.event);
    return event.type === "conversation_updated" && conversationIds.includes(event.conversation.id) ? [{ recipients: row.recipients, conversation: event.conversation }] : [];
  });
}

async function messageCounts(conversationId: string): Promise<{ hot: number; archived: number }> {
  const [hot] = await harness.db.db.select({ n: count() }).from(schema.messages).where(eq(schema.messages.conversationId, conversationId));
  const [archived] = await harness.db.db.select({ n: count() }).from(schema.archivedMessages).where(eq(schema.archivedMessages.conversationId, conversationId));
  return { hot: hot?.n ?? 0, archived: archived?.n ?? 0 };
}

async function archivedAt(conversationId: string): Promise<Date | null> {
  const [row] = await harness.db.db.select({ at: schema.conversations.archivedAt }).from(schema.conversations).where(eq(schema.conversations.id, conversationId));
  return row?.at ?? null;
}

/** An archiver on its own connection pool, as on another worker node. */
function archiver(clock: TestClock, batches: { moveBatch?: number; markBatch?: number; maxPerRun?: number } = {}): { archiver: Archiver; registry: Registry } {
  const database = createDb(harness.env.DATABASE_URL!, { max: 2 });
  extraDbs.push(database);
  const registry = new Registry();
  const metrics = createWorkerMetrics(registry, []);
  return { archiver: new Archiver({ database, clock, logger: testLogger("archiver-test"), metrics, archiveAfterMs: 90 * DAY, ...batches }), registry };
}

describe("archival of idle conversations", () => {
  it("archives conversations idle longer than ARCHIVE_AFTER and leaves active ones untouched", async () => {
    const t0 = new Date(Date.now() - 1_000);
    const [alice, bob] = [await harness.user({ name: "Alice" }), await harness.user({ name: "Bob" })];
    const idle = await harness.conversation([alice.id, bob.id], { lastActivityAt: t0 });
    const sent: { id: string; seq: number }[] = [];
    for (let i = 1; i <= 5; i++) sent.push(await harness.message(idle, alice.id, `old message ${i}`, t0));
    await harness.markRead(idle, bob.id, 2);
    const active = await harness.conversation([alice.id, bob.id], { lastActivityAt: new Date(t0.getTime() + 60 * DAY) });
    await harness.message(active, bob.id, "recent", new Date(t0.getTime() + 60 * DAY));

    // 95 days after the idle conversation's last message, 35 after the active one's.
    const clock = new TestClock(new Date(t0.getTime() + 95 * DAY));
    const node = await harness.startNode({ clock });
    const result = await node.archiver.run();
    expect(result.archived).toBeGreaterThanOrEqual(1);

    expect(await archivedAt(idle)).toEqual(clock.now());
    expect(await messageCounts(idle)).toEqual({ hot: 0, archived: 5 });
    const archivedRows = await harness.db.db
      .select({ id: schema.archivedMessages.id, seq: schema.archivedMessages.seq, content: schema.archivedMessages.content, search: schema.archivedMessages.search })
      .from(schema.archivedMessages)
      .where(eq(schema.archivedMessages.conversationId, idle))
      .orderBy(asc(schema.archivedMessages.seq));
    expect(archivedRows.map((row) => [row.id, row.seq])).toEqual(sent.map((m) => [m.id, m.seq]));
    expect(archivedRows[0]!.content).toBe("old message 1");
    expect(archivedRows[0]!.search).toContain("'old'");

    expect(await archivedAt(active)).toBeNull();
    expect(await messageCounts(active)).toEqual({ hot: 1, archived: 0 });

    // Every participant gets conversation_updated with their own view.
    const events = await updatedEvents([idle]);
    const byUser = new Map(events.flatMap((event) => event.recipients.map((userId) => [userId, event.conversation] as const)));
    expect([...byUser.keys()].sort()).toEqual([alice.id, bob.id].sort());
    expect(byUser.get(bob.id)).toMatchObject({ id: idle, archived: true, archived_at: clock.now().toISOString(), unread_count: 3, last_seq: 5 });
    expect(byUser.get(bob.id)?.last_message).toMatchObject({ id: sent[4]!.id, seq: 5, content: "old message 5" });
    expect(byUser.get(alice.id)).toMatchObject({ unread_count: 0, archived: true });
    expect(await updatedEvents([active])).toEqual([]);

    const metrics = await (await fetch(`http://127.0.0.1:${node.port!}/metrics`)).text();
    expect(metrics).toMatch(/parley_conversations_archived_total\{[^}]*\} [1-9]/);
  });

  it("two archivers at once archive each conversation once and move each message once", async () => {
    const t0 = new Date(Date.now() - 1_000);
    const clock = new TestClock(new Date(t0.getTime() + 100 * DAY));
    const users = [await harness.user(), await harness.user(), await harness.user()];
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = await harness.conversation(users.map((u) => u.id), { lastActivityAt: t0 });
      await harness.bulkMessages(id, users[i % 3]!.id, i === 0 ? 1_200 : 20, t0);
      ids.push(id);
    }
    const a = archiver(clock, { markBatch: 3, moveBatch: 100 });
    const b = archiver(clock, { markBatch: 3, moveBatch: 100 });
    const [ra, rb] = await Promise.all([a.archiver.run(), b.archiver.run()]);

    const ours = (await harness.db.db.select({ id: schema.conversations.id, archivedAt: schema.conversations.archivedAt }).from(schema.conversations).where(inArray(schema.conversations.id, ids)));
    expect(ours.every((row) => row.archivedAt !== null)).toBe(true);
    expect(ra.archived + rb.archived).toBeGreaterThanOrEqual(12);
    for (const [i, id] of ids.entries()) expect(await messageCounts(id)).toEqual({ hot: 0, archived: i === 0 ? 1_200 : 20 });
    // One conversation_updated per participant per conversation: marked once, by one of the two.
    const events = await updatedEvents(ids);
    for (const id of ids) {
      const recipients = events.filter((event) => event.conversation.id === id).flatMap((event) => event.recipients);
      expect(recipients.sort()).toEqual(users.map((u) => u.id).sort());
    }
    const counted = await Promise.all([a.registry, b.registry].map(async (registry) => / (\d+)$/m.exec(await registry.getSingleMetricAsString("parley_conversations_archived_total"))?.[1]));
    expect(ra.archived + rb.archived).toBe(counted.reduce((sum, n) => sum + Number(n ?? 0), 0));
  });

  it("a run interrupted mid-move is finished by the next run, history whole", async () => {
    const t0 = new Date(Date.now() - 1_000);
    const clock = new TestClock(new Date(t0.getTime() + 100 * DAY));
    const [alice, bob] = [await harness.user(), await harness.user()];
    const id = await harness.conversation([alice.id, bob.id], { lastActivityAt: t0 });
    await harness.bulkMessages(id, alice.id, 250, t0);
    // The state a crash leaves: marked archived, the first 100 messages moved, the rest still hot.
    await harness.db.db.update(schema.conversations).set({ archivedAt: clock.now() }).where(eq(schema.conversations.id, id));
    await harness.db.db.execute(sql`
      WITH moved AS (DELETE FROM ${schema.messages} WHERE conversation_id = ${id} AND seq <= 100
        RETURNING id, conversation_id, seq, sender_id, type, content, client_msg_id, reply_to, attachments, created_at, edited_at, deleted_at)
      INSERT INTO ${schema.archivedMessages} (id, conversation_id, seq, sender_id, type, content, client_msg_id, reply_to, attachments, created_at, edited_at, deleted_at)
      SELECT * FROM moved`);
    expect(await messageCounts(id)).toEqual({ hot: 150, archived: 100 });

    const result = await archiver(clock, { moveBatch: 60 }).archiver.run();
    expect(result.moved).toBeGreaterThanOrEqual(150);
    expect(await messageCounts(id)).toEqual({ hot: 0, archived: 250 });
    const seqs = await harness.db.db.select({ seq: schema.archivedMessages.seq }).from(schema.archivedMessages).where(eq(schema.archivedMessages.conversationId, id)).orderBy(asc(schema.archivedMessages.seq));
    expect(seqs.map((row) => row.seq)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
  });

  it("caps the conversations of one run, and the next run continues where it stopped", async () => {
    const t0 = new Date(Date.now() - 1_000);
    const clock = new TestClock(new Date(t0.getTime() + 100 * DAY));
    const [alice, bob] = [await harness.user(), await harness.user()];
    // Oldest first: a run marks the longest idle conversations first.
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const idleSince = new Date(t0.getTime() - (1_000 - i) * DAY);
      const id = await harness.conversation([alice.id, bob.id], { lastActivityAt: idleSince });
      await harness.bulkMessages(id, alice.id, 30, idleSince);
      ids.push(id);
    }
    // Left by a crash: marked archived, messages still hot. It counts against the cap of the run that finishes it.
    const leftover = await harness.conversation([alice.id, bob.id], { lastActivityAt: t0 });
    await harness.bulkMessages(leftover, bob.id, 10, t0);
    await harness.db.db.update(schema.conversations).set({ archivedAt: clock.now() }).where(eq(schema.conversations.id, leftover));

    const node = archiver(clock, { maxPerRun: 2, markBatch: 100, moveBatch: 7 });
    const archivedOf = async () => (await Promise.all(ids.map(archivedAt))).map((at) => at !== null);

    expect(await node.archiver.run()).toEqual({ archived: 1, moved: 40, capped: true });
    expect(await messageCounts(leftover)).toEqual({ hot: 0, archived: 10 });
    expect(await archivedOf()).toEqual([true, false, false, false, false]);
    expect(await node.archiver.run()).toEqual({ archived: 2, moved: 60, capped: true });
    expect(await archivedOf()).toEqual([true, true, true, false, false]);
    expect(await node.archiver.run()).toEqual({ archived: 2, moved: 60, capped: true });
    expect(await node.archiver.run()).toEqual({ archived: 0, moved: 0, capped: false });
    for (const id of ids) expect(await messageCounts(id)).toEqual({ hot: 0, archived: 30 });
    // Each conversation marked by exactly one run: one conversation_updated per participant.
    const events = await updatedEvents(ids);
    for (const id of ids) {
      const recipients = events.filter((event) => event.conversation.id === id).flatMap((event) => event.recipients);
      expect(recipients.sort()).toEqual([alice.id, bob.id].sort());
    }
  });

  it("runs on the ARCHIVE_CRON job scheduler", async () => {
    const t0 = new Date(Date.now() - 1_000);
    const [alice, bob] = [await harness.user(), await harness.user()];
    const id = await harness.conversation([alice.id, bob.id], { lastActivityAt: t0 });
    await harness.message(id, alice.id, "scheduled", t0);
    // Every second (a leading seconds field), so the schedule fires during the test.
    const node = await harness.startNode({ clock: new TestClock(new Date(t0.getTime() + 91 * DAY)) }, { ARCHIVE_CRON: "* * * * * *" });
    const scheduler = await node.queues.archival.getJobScheduler(ARCHIVAL_SCHEDULER_ID);
    expect(scheduler).toMatchObject({ pattern: "* * * * * *", name: ARCHIVAL_JOB_NAME });
    await waitFor(async () => (await archivedAt(id)) !== null, { timeout: 10_000, message: "the scheduled archival did not run" });
    // Marking and moving are separate short transactions: wait for the move to finish too.
    await waitFor(async () => {
      const counts = await messageCounts(id);
      return counts.hot === 0 && counts.archived === 1;
    }, { timeout: 10_000, message: "the scheduled archival did not move the messages" });
    expect(await messageCounts(id)).toEqual({ hot: 0, archived: 1 });
    // Back to the daily default: one schedule per fleet, updated in place.
    await node.queues.archival.upsertJobScheduler(ARCHIVAL_SCHEDULER_ID, { pattern: "0 3 * * *" }, { name: ARCHIVAL_JOB_NAME, data: {} });
    expect(await node.queues.archival.getJobSchedulersCount()).toBe(1);
  });
});
