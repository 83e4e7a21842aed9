import { readUserStream } from "@parley/bus";
import { ParleyError, type SendMessageBody } from "@parley/protocol";
import { waitFor } from "@parley/testing";
import { Redis } from "ioredis";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiNode, type ApiNode } from "../src/api-node";
import { MessageService } from "../src/services/message-service";
import type { Actor } from "../src/services/actor";
import { ApiHarness, type RegisteredUser } from "./support/api-harness";
import { openGroup, send } from "./support/message-fixtures";

let api: ApiHarness;
let second: ApiNode;
let users: RegisteredUser[];
let redis: Redis;

beforeAll(async () => {
  // A window long enough that sends started together share a batch; the rate limit of 30 a minute is reached below.
  api = await ApiHarness.start({ MESSAGE_RATE_LIMIT: "30", SEND_BATCH_WINDOW: "20ms", SEND_BATCH_MAX: "64" });
  users = await Promise.all(Array.from({ length: 6 }, () => api.register("user")));
  // A second API node on the same database and Redis: sends race across nodes as in production.
  second = await createApiNode({ config: { ...api.config, NODE_ID: "api-second" } });
  redis = new Redis(api.redis.url);
}, 60_000);
afterAll(async () => {
  redis.disconnect();
  await second.close();
  await api.close();
});

const actorOf = (user: RegisteredUser): Actor => ({ id: user.id, role: user.role, exp: Math.floor(Date.now() / 1000) + 3600 });
const body = (content: string, extra: Partial<SendMessageBody> = {}): SendMessageBody => ({ client_msg_id: randomUUID(), content, type: "text", attachments: [], ...extra });
const seqsOf = async (conversationId: string) =>
  (await api.node.database.sql<{ seq: number }[]>`SELECT seq FROM messages WHERE conversation_id = ${conversationId} ORDER BY seq`).map((row) => row.seq);
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const user = (index: number): RegisteredUser => {
  const found = users[index];
  if (!found) throw new Error(`no user ${index}`);
  return found;
};

/** Sends that run through one service start in the same turn of the event loop, so they share a batch. */
const together = <T>(calls: (() => Promise<T>)[]) => Promise.allSettled(calls.map((call) => call()));

describe("group commit", () => {
  it("gives concurrent sends to one conversation, through two nodes, gap-free unique seqs", async () => {
    const conversationId = await openGroup(api, user(0), [user(1), user(2)]);
    const nodes = [api.node, second];
    const results = await Promise.all(
      range(24).map((i) => (nodes[i % 2] ?? api.node).services.messages.send(actorOf(user(i % 3)), conversationId, body(`m${i}`))),
    );
    expect(results.every((result) => result.created)).toBe(true);
    expect(await seqsOf(conversationId)).toEqual(range(24));
    const [row] = await api.node.database.sql<{ last_seq: number }[]>`SELECT last_seq FROM conversations WHERE id = ${conversationId}`;
    expect(row?.last_seq).toBe(24);
  });

  it("writes sends to many conversations in one transaction, each conversation's seqs gap-free", async () => {
    const conversations = await Promise.all(range(5).map(() => openGroup(api, user(3), [user(4)])));
    const before = await batchCount();
    const results = await together(conversations.flatMap((id) => range(4).map((i) => () => api.node.services.messages.send(actorOf(user(3 + (i % 2))), id, body(`to ${id} #${i}`)))));
    expect(results.every((result) => result.status === "fulfilled")).toBe(true);
    for (const id of conversations) expect(await seqsOf(id)).toEqual(range(4));
    // 20 sends started together: one batch (the histogram counts batches).
    expect(await batchCount()).toBe(before + 1);
  });

  it("stores one message for concurrent sends of one client_msg_id, on one node and across two", async () => {
    const conversationId = await openGroup(api, user(0), [user(1)]);
    const same = body("only once");
    const results = await Promise.all(range(10).map((i) => (i % 2 === 0 ? api.node : second).services.messages.send(actorOf(user(0)), conversationId, same)));
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.message.id)).size).toBe(1);
    expect(await seqsOf(conversationId)).toEqual([1]);
  });

  it("refuses a poison item alone: the rest of its batch commits", async () => {
    const conversationId = await openGroup(api, user(0), [user(1)]);
    const elsewhere = await openGroup(api, user(0), [user(2)]);
    const reused = body("first use");
    await api.node.services.messages.send(actorOf(user(0)), elsewhere, reused);
    const service = api.node.services.messages;
    const results = await together([
      () => service.send(actorOf(user(0)), conversationId, body("fine 1")),
      () => service.send(actorOf(user(5)), conversationId, body("not a member")),
      () => service.send(actorOf(user(1)), conversationId, body("bad reply", { reply_to: randomUUID() })),
      () => service.send(actorOf(user(0)), conversationId, { ...reused, content: "reused elsewhere" }),
      // PostgreSQL refuses NUL in text: the whole transaction fails, so the batch is retried one by one.
      () => service.send(actorOf(user(1)), conversationId, body("nul \u0000 byte")),
      () => service.send(actorOf(user(1)), conversationId, body("fine 2")),
    ]);
    const codes = results.map((result) => (result.status === "fulfilled" ? "ok" : result.reason instanceof ParleyError ? result.reason.code : "error"));
    expect(codes).toEqual(["ok", "not_found", "invalid_request", "conflict", "error", "ok"]);
    expect(await seqsOf(conversationId)).toEqual([1, 2]);
  });

  it("enforces MESSAGE_RATE_LIMIT within a batch, counting each message once", async () => {
    const sender = await api.register("user");
    const conversationId = await openGroup(api, sender, [user(1)]);
    const results = await together(range(35).map((i) => () => api.node.services.messages.send(actorOf(sender), conversationId, body(`burst ${i}`))));
    const refused = results.filter((result) => result.status === "rejected");
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(30);
    expect(refused.every((result) => result.reason instanceof ParleyError && result.reason.code === "rate_limited")).toBe(true);
    expect(await seqsOf(conversationId)).toEqual(range(30));
  });
});

describe("publishing", () => {
  it("delivers each conversation's events in seq order to every member while two nodes send", async () => {
    const conversationId = await openGroup(api, user(0), [user(1), user(2)]);
    await Promise.all(range(30).map((i) => (i % 2 === 0 ? api.node : second).services.messages.send(actorOf(user(i % 3)), conversationId, body(`ordered ${i}`))));
    for (const member of [user(0), user(1), user(2)]) {
      const seqs = await waitFor(
        async () => {
          const found = await newMessageSeqs(member.id, conversationId);
          return found.length >= 30 && found;
        },
        { timeout: 10_000, message: "30 new_message events in the stream" },
      );
      expect(seqs).toEqual(range(30));
    }
  });

  it("publishes from memory without a relay transaction, and deletes the published rows", async () => {
    const conversationId = await openGroup(api, user(3), [user(4)]);
    await api.node.relay.flush();
    const direct = await directPublishes();
    const message = await send(api, user(3), conversationId, "from memory");
    await waitFor(async () => (await newMessageSeqs(user(4).id, conversationId)).includes(message.seq), { timeout: 5000, message: "the event in the stream" });
    expect(await directPublishes()).toBeGreaterThan(direct);
    await waitFor(async () => (await unpublishedOf(conversationId)) === 0, { timeout: 5000, message: "published rows deleted" });
  });

  it("delivers events committed by a node that died before publishing them (the sweep)", async () => {
    const conversationId = await openGroup(api, user(0), [user(5)]);
    const deps = (api.node.services.messages as unknown as { deps: ConstructorParameters<typeof MessageService>[0] }).deps;
    // The same write path, but a relay that never publishes: the process "dies" between commit and publish.
    const dying = new MessageService({ ...deps, relay: { kick: () => undefined, claim: () => undefined, abandon: () => undefined, publishCommitted: () => undefined } });
    const { message } = await dying.send(actorOf(user(0)), conversationId, body("committed, never published"));
    await waitFor(async () => (await newMessageSeqs(user(5).id, conversationId)).includes(message.seq), { timeout: 10_000, message: "the sweep publishes it" });
    await waitFor(async () => (await unpublishedOf(conversationId)) === 0, { timeout: 5000, message: "published rows deleted" });
  });
});

async function newMessageSeqs(userId: string, conversationId: string): Promise<number[]> {
  const result = await readUserStream(redis, api.redis.prefix, userId, "0-0", 10_000);
  if (!result.ok) throw new Error("stream trimmed");
  return result.events.flatMap(({ event }) => (event.type === "new_message" && event.conversation_id === conversationId ? [event.message.seq] : []));
}

async function unpublishedOf(conversationId: string): Promise<number> {
  const [row] = await api.node.database.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM outbox WHERE published_at IS NULL AND conversation_id = ${conversationId}`;
  return row?.count ?? -1;
}

function metricsText(): Promise<string> {
  return api.metrics();
}

async function batchCount(): Promise<number> {
  const match = /^parley_send_batch_size_count(?:\{[^}]*\})? (\d+)/m.exec(await metricsText());
  return Number(match?.[1] ?? 0);
}

async function directPublishes(): Promise<number> {
  const match = /^parley_outbox_direct_publishes_total\{[^}]*result="direct"[^}]*\} (\d+)/m.exec(await metricsText());
  return Number(match?.[1] ?? 0);
}

