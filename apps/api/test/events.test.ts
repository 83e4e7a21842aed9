import type { ConversationEvent, Message } from "@parley/protocol";
import { waitFor } from "@parley/testing";
import { sql } from "drizzle-orm";
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { ArchiveRepository } from "../src/repositories/archive-repository";
import { MessageRepository } from "../src/repositories/message-repository";
import { OutboxRepository } from "../src/repositories/outbox-repository";
import { SendBatchRepository } from "../src/repositories/send-batch-repository";
import { RecipientUnreadRepository } from "../src/repositories/recipient-unread-repository";
import { systemClock } from "@parley/config";
import { MessageWriter } from "../src/services/message-writer";
import { systemMessageWriter } from "../src/services/system-message-writer";
import type { RegisteredUser } from "./support/api-harness";
import { alice, api, bob, carol, useApiPerFile } from "./support/api-per-file";
import { type ChannelListener, listenAfterRelay, openDirect, openGroup, send } from "./support/message-fixtures";

let listener: ChannelListener;

useApiPerFile({ people: true });
afterEach(async () => {
  await listener.close();
});

async function listen(...users: RegisteredUser[]): Promise<ChannelListener> {
  listener = await listenAfterRelay(api, users);
  return listener;
}

/**
 * Sends one more message and waits for it everywhere: the relay publishes in order, so once this marker has
 * arrived any duplicate or stray event of the test would have arrived before it.
 */
async function settle(conversationId: string, users: RegisteredUser[]): Promise<void> {
  const marker = await send(api, users[0]!, conversationId, `marker ${randomUUID()}`);
  for (const user of users) {
    await listener.waitForMatch(user.id, (e) => e.type === "new_message" && e.message.id === marker.id);
  }
}

const types = (userId: string, conversationId: string): string[] =>
  listener
    .envelopes(userId)
    .map((e) => e.event)
    .filter((e) => eventConversation(e) === conversationId && !(e.type === "new_message" && e.message.content?.startsWith("marker")))
    .map((e) => e.type);

function eventConversation(event: ConversationEvent): string {
  return event.type === "conversation_updated" ? event.conversation.id : event.conversation_id;
}

describe("events", () => {
  it("delivers new_message once to every participant, in seq order, each with a stream pos", async () => {
    const conversationId = await openGroup(api, alice, [bob, carol]);
    await listen(alice, bob, carol);
    await Promise.all(Array.from({ length: 10 }, (_, i) => send(api, i % 2 ? alice : bob, conversationId, `concurrent ${i}`)));
    await settle(conversationId, [alice, bob, carol]);
    for (const user of [alice, bob, carol]) {
      const received = listener.of(user.id, "new_message");
      expect(received.map((e) => e.message.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
      expect(received.every((e) => /^\d+-\d+$/.test(e.pos))).toBe(true);
      expect(new Set(received.map((e) => e.pos)).size).toBe(11);
    }
  });

  it("pushes unread_count to recipients other than the sender, the total leaving muted conversations out", async () => {
    // Newcomers, so that the totals hold only this test's conversations.
    const [alice, bob] = await Promise.all([api.register("user"), api.register("user")]);
    const direct = await openDirect(api, alice, bob);
    const group = await openGroup(api, alice, [bob]);
    await api.node.database.sql`UPDATE participants SET muted = true WHERE conversation_id = ${direct} AND user_id = ${bob.id}`;
    for (const id of [direct, group]) await api.request("POST", `/v1/conversations/${id}/read`, { token: bob.token, body: { up_to_seq: 1000 } });
    await listen(alice, bob);

    await send(api, alice, direct, "in a muted conversation");
    const [mutedCount] = await listener.waitFor(bob.id, "unread_count", 1);
    expect(mutedCount).toMatchObject({ conversation_id: direct, unread_count: 1, total: 0 });
    await send(api, alice, group, "in the group");
    const [, groupCount] = await listener.waitFor(bob.id, "unread_count", 2);
    expect(groupCount).toMatchObject({ conversation_id: group, unread_count: 1, total: 1 });
    await settle(group, [alice, bob]);
    expect(listener.of(alice.id, "unread_count")).toEqual([]);
    expect(listener.of(bob.id, "unread_count")).toHaveLength(3);
  });

  it("sends message_updated to all, and message_deleted with fresh unread counts where it was unread", async () => {
    const conversationId = await openGroup(api, alice, [bob, carol]);
    const message = await send(api, alice, conversationId, "first draft");
    await api.request("POST", `/v1/conversations/${conversationId}/read`, { token: carol.token, body: { up_to_seq: message.seq } });
    await listen(alice, bob, carol);

    await api.request("PATCH", `/v1/messages/${message.id}`, { token: alice.token, body: { content: "final" } });
    await api.request("DELETE", `/v1/messages/${message.id}`, { token: alice.token });
    await settle(conversationId, [alice, bob, carol]);
    for (const user of [alice, bob, carol]) {
      expect(listener.of(user.id, "message_updated").map((e) => e.message)).toEqual([expect.objectContaining({ id: message.id, content: "final" })]);
      expect(listener.of(user.id, "message_deleted")).toEqual([expect.objectContaining({ conversation_id: conversationId, message_id: message.id, seq: message.seq })]);
    }
    expect(types(bob.id, conversationId)).toEqual(["message_updated", "message_deleted", "unread_count", "unread_count"]);
    expect(listener.of(bob.id, "unread_count")[0]).toMatchObject({ conversation_id: conversationId, unread_count: 0 });
    expect(types(carol.id, conversationId)).toEqual(["message_updated", "message_deleted", "unread_count"]);
    expect(types(alice.id, conversationId)).toEqual(["message_updated", "message_deleted"]);
  });

  it("sends messages_read to every participant and unread_count to the reader, only when the mark moved", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    await send(api, alice, conversationId, "one");
    await send(api, alice, conversationId, "two");
    await listen(alice, bob);
    const markRead = (upTo: number) => api.request("POST", `/v1/conversations/${conversationId}/read`, { token: bob.token, body: { up_to_seq: upTo } });
    await markRead(1);
    await markRead(1);
    await markRead(0);
    await settle(conversationId, [alice, bob]);
    for (const user of [alice, bob]) {
      expect(listener.of(user.id, "messages_read")).toEqual([expect.objectContaining({ conversation_id: conversationId, user_id: bob.id, up_to_seq: 1 })]);
    }
    expect(types(bob.id, conversationId)).toEqual(["messages_read", "unread_count", "unread_count"]);
    expect(listener.of(bob.id, "unread_count")[0]).toMatchObject({ conversation_id: conversationId, unread_count: 1 });
  });

  it("delivers an event committed without a kick through the relay's periodic sweep", async () => {
    const conversationId = await openDirect(api, alice, carol);
    await listen(carol);
    const orphan: ConversationEvent = { type: "messages_read", conversation_id: conversationId, user_id: alice.id, up_to_seq: 7 };
    // As if the node had crashed between the commit and its publish: the row is committed, nobody kicks.
    const [row] = await api.node.database.sql<{ id: number }[]>`
      INSERT INTO outbox (recipients, event) VALUES (${[carol.id]}, ${JSON.stringify(orphan)}::jsonb) RETURNING id`;
    const [received] = await listener.waitFor(carol.id, "messages_read", 1, 10_000);
    expect(received).toMatchObject(orphan);
    // Published rows are deleted, not kept with a mark.
    await waitFor(async () => (await api.node.database.sql`SELECT 1 FROM outbox WHERE id = ${row!.id}`).length === 0, { timeout: 10_000 });
  });

  it("publishes a new message's unread counters, committed with it in one outbox row, through the sweep in order", async () => {
    const conversationId = await openDirect(api, alice, carol);
    await listen(alice, carol);
    const message: Message = {
      id: randomUUID(),
      conversation_id: conversationId,
      seq: 99,
      sender_id: alice.id,
      type: "text",
      content: "orphan",
      reply_to: null,
      attachments: [],
      created_at: new Date().toISOString(),
      edited_at: null,
      deleted: false,
    };
    const event: ConversationEvent = { type: "new_message", conversation_id: conversationId, message };
    // As if the node had crashed between the commit and its publish: the sweep finds the row and its companions.
    await api.node.database.sql`
      INSERT INTO outbox (recipients, event, conversation_id, unread)
      VALUES (${[alice.id, carol.id]}, ${JSON.stringify(event)}::jsonb, ${conversationId}, ${JSON.stringify([{ u: carol.id, n: 5, t: 7 }])}::jsonb)`;
    await listener.waitFor(carol.id, "unread_count", 1, 10_000);
    expect(types(carol.id, conversationId)).toEqual(["new_message", "unread_count"]);
    expect(listener.of(carol.id, "unread_count")[0]).toMatchObject({ conversation_id: conversationId, unread_count: 5, total: 7 });
    await listener.waitFor(alice.id, "new_message", 1, 10_000);
    expect(types(alice.id, conversationId)).toEqual(["new_message"]);
  });

  it("records one outbox row per message: the conversation's last one carries the recipients' new unread counters", async () => {
    const conversationId = await openGroup(api, alice, [bob, carol]);
    await listen(bob);
    const writer = testWriter();
    const { events, stored } = await api.node.database.db.transaction(async (tx) => {
      const locked = await new SendBatchRepository().lockConversations(tx, [conversationId]);
      const input = (content: string) => ({ conversationId, senderId: alice.id, type: "text" as const, content, clientMsgId: randomUUID(), replyTo: null, attachments: [] });
      const written = await writer.appendLocked(tx, [input("one"), input("two"), input("three")], locked);
      const rows = await tx.execute<{ n: number }>(sql`SELECT count(*)::int AS "n" FROM "outbox" WHERE "conversation_id" = ${conversationId} AND "published_at" IS NULL`);
      return { events: written.events, stored: rows[0]?.n };
    });
    api.node.relay.kick();
    expect(stored).toBe(3);
    expect(events.map((e) => e.event.type)).toEqual(["new_message", "new_message", "new_message"]);
    expect(events.slice(0, 2).every((e) => e.unread === undefined)).toBe(true);
    // The sender read their own messages: no counter of theirs changed. Totals add the users' other conversations.
    const unread = events[2]?.unread ?? [];
    expect(unread.map((u) => [u.userId, u.unread]).sort()).toEqual([[bob.id, 3], [carol.id, 3]].sort());
    expect(unread.every((u) => u.total >= 3)).toBe(true);
    const [counted] = await listener.waitFor(bob.id, "unread_count", 1);
    expect(counted).toMatchObject({ conversation_id: conversationId, unread_count: 3, total: unread.find((u) => u.userId === bob.id)?.total });
  });

  it("lets a sweep skip whole conversations this node is publishing from memory, and tells whether another writer's event waits there", async () => {
    const outbox = new OutboxRepository(api.node.database);
    const [x, y] = [randomUUID(), randomUUID()];
    const read = (conversationId: string): ConversationEvent => ({ type: "messages_read", conversation_id: conversationId, user_id: alice.id, up_to_seq: 1 });
    const { stored, pending, waiting, settled } = await api.node.database.db.transaction(async (tx) => {
      const added = await outbox.add(tx, [
        { recipients: [alice.id], event: read(x) },
        { recipients: [alice.id], event: read(x) },
        { recipients: [alice.id], event: read(y) },
      ]);
      const [first] = added;
      return {
        stored: added,
        pending: await outbox.pending(tx, 100, undefined, [x]),
        // The first of x is this node's claim; the second is another writer's: it waits behind it.
        waiting: await outbox.hasUnclaimed(tx, [x], first ? [first.id] : []),
        settled: await outbox.hasUnclaimed(tx, [x], added.map((e) => e.id)),
      };
    });
    const ids = stored.map((e) => e.id);
    expect(pending.events.map((e) => e.id).filter((id) => ids.includes(id))).toEqual([ids[2]]);
    expect(waiting).toBe(true);
    expect(settled).toBe(false);
    api.node.relay.kick();
    await waitFor(async () => (await api.node.database.sql`SELECT 1 FROM outbox WHERE id = ANY(${ids})`).length === 0, { timeout: 10_000 });
  });

  it("appends membership notices as system messages with the next seq and their events", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    await send(api, alice, conversationId, "before the notice");
    await listen(alice, bob);
    const append = systemMessageWriter(testWriter());
    await api.node.database.db.transaction((tx) => append(tx, conversationId, "Alice added Carol"));
    api.node.relay.kick();
    const [notice] = await listener.waitFor(bob.id, "new_message", 1);
    expect(notice?.message).toMatchObject({ seq: 2, type: "system", sender_id: null, content: "Alice added Carol" });
    await listener.waitFor(bob.id, "unread_count", 1);
    expect(listener.of(bob.id, "unread_count")[0]).toMatchObject({ unread_count: 2 });
    const page = await api.request<{ items: Message[] }>("GET", `/v1/conversations/${conversationId}/messages`, { token: bob.token });
    expect(page.body.items.map((m) => [m.seq, m.type])).toEqual([
      [1, "text"],
      [2, "system"],
    ]);
  });
});

function testWriter(): MessageWriter {
  return new MessageWriter({
    messages: new MessageRepository(),
    batches: new SendBatchRepository(),
    archive: new ArchiveRepository(),
    outbox: new OutboxRepository(api.node.database),
    recipientUnread: new RecipientUnreadRepository(),
    conversationUpdates: () => Promise.resolve([]),
    clock: systemClock,
    newId: randomUUID,
  });
}
