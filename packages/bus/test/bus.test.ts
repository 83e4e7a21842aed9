import { createTestRedis, waitFor, type TestRedis } from "@parley/testing";
import type { ConversationEvent } from "@parley/protocol";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChannelSubscriber, EventPublisher, busKeys, comparePos, latestPos, parseEnvelope, parseLivePayload, readUserStream, type EventEnvelope } from "../src";

const conversationId = "0192f5a4-7c1e-7cc2-9a55-1f1a2b3c4d5e";

function readEvent(upToSeq: number): ConversationEvent {
  return { type: "messages_read", conversation_id: conversationId, user_id: "reader", up_to_seq: upToSeq };
}

let testRedis: TestRedis;
let redis: Redis;
let subscriber: ChannelSubscriber;
let publisher: EventPublisher;

beforeAll(async () => {
  testRedis = await createTestRedis("bus");
  redis = new Redis(testRedis.url);
  subscriber = new ChannelSubscriber(new Redis(testRedis.url));
  publisher = new EventPublisher({ redis, keyPrefix: testRedis.prefix, streamMaxLength: 1000 });
});

afterAll(async () => {
  await subscriber.close();
  await subscriber.close();
  await testRedis.cleanup();
  redis.disconnect();
});

function collect(userId: string): Promise<{ received: EventEnvelope[]; stop: () => Promise<void> }> {
  const received: EventEnvelope[] = [];
  return subscriber
    .subscribe(busKeys(testRedis.prefix).userChannel(userId), (text) => {
      const envelope = parseEnvelope(text);
      if (envelope) received.push(envelope);
    })
    .then((stop) => ({ received, stop }));
}

describe("publishing events", () => {
  it("delivers one envelope per recipient with a pos that resume can replay", async () => {
    const alice = await collect("alice");
    const bob = await collect("bob");
    const result = await publisher.publish([{ id: "1", recipients: ["alice", "bob", "alice"], event: readEvent(1) }]);
    await waitFor(() => alice.received.length === 1 && bob.received.length === 1);
    expect(alice.received[0]?.event).toEqual(readEvent(1));
    expect(alice.received[0]?.pos).toBe(result.get("1")?.get("alice"));
    const replay = await readUserStream(redis, testRedis.prefix, "alice", "0-0");
    expect(replay).toEqual({ ok: true, events: [{ pos: alice.received[0]?.pos, event: readEvent(1) }], more: false, last: alice.received[0]?.pos, skipped: [] });
    await alice.stop();
    await bob.stop();
  });

  it("appends an event id once per user even when the relay publishes it again", async () => {
    const carol = await collect("carol");
    const first = await publisher.publish([{ id: "42", recipients: ["carol"], event: readEvent(2) }]);
    const again = await publisher.publish([{ id: "42", recipients: ["carol"], event: readEvent(2) }]);
    expect(again.get("42")?.get("carol")).toBe(first.get("42")?.get("carol"));
    await waitFor(() => carol.received.length === 1);
    const replay = await readUserStream(redis, testRedis.prefix, "carol", "0-0");
    expect(replay.ok && replay.events.length).toBe(1);
    await carol.stop();
  });

  it("keeps the order of a batch in each user's stream", async () => {
    const batch = Array.from({ length: 20 }, (_, i) => ({ id: `b${i}`, recipients: ["dave"], event: readEvent(i + 1) }));
    await publisher.publish(batch);
    const replay = await readUserStream(redis, testRedis.prefix, "dave", "0-0");
    if (!replay.ok) throw new Error("unexpected too_old");
    expect(replay.events.map((e) => (e.event.type === "messages_read" ? e.event.up_to_seq : 0))).toEqual(batch.map((_, i) => i + 1));
    const positions = replay.events.map((e) => e.pos);
    expect([...positions].sort(comparePos)).toEqual(positions);
    expect(await latestPos(redis, testRedis.prefix, "dave")).toBe(positions.at(-1));
    const afterThird = await readUserStream(redis, testRedis.prefix, "dave", positions[2] ?? "0-0");
    expect(afterThird.ok && afterThird.events.length).toBe(17);
  });

  it("answers too_old when the stream was trimmed past the position", async () => {
    const small = new EventPublisher({ redis, keyPrefix: testRedis.prefix, streamMaxLength: 1 });
    const first = await small.publish([{ id: "t0", recipients: ["erin"], event: readEvent(1) }]);
    const firstPos = first.get("t0")?.get("erin") ?? "";
    // Approximate trimming removes whole nodes: exact trimming makes the test deterministic.
    for (let i = 1; i <= 5; i++) await small.publish([{ id: `t${i}`, recipients: ["erin"], event: readEvent(i + 1) }]);
    await redis.xtrim(busKeys(testRedis.prefix).userStream("erin"), "MAXLEN", 2);
    expect(await readUserStream(redis, testRedis.prefix, "erin", firstPos)).toEqual({ ok: false, reason: "too_old" });
    const newest = await latestPos(redis, testRedis.prefix, "erin");
    expect(await readUserStream(redis, testRedis.prefix, "erin", newest)).toEqual({ ok: true, events: [], more: false, last: undefined, skipped: [] });
  });

  it("answers too_old when the stream is gone although the client holds a position in it (Redis lost its data)", async () => {
    const published = await publisher.publish([{ id: "lost-1", recipients: ["frank"], event: readEvent(1) }]);
    const pos = published.get("lost-1")?.get("frank") ?? "";
    await redis.del(busKeys(testRedis.prefix).userStream("frank"));
    expect(await readUserStream(redis, testRedis.prefix, "frank", pos)).toEqual({ ok: false, reason: "too_old" });
  });

  it("answers too_old when the stream started over after the client's position (lost, then written again)", async () => {
    // The earlier stream's entry, written a while ago (the restart takes longer than a millisecond).
    const pos = await redis.xadd(busKeys(testRedis.prefix).userStream("gina"), `${Date.now() - 60_000}-0`, "e", "{}");
    await redis.del(busKeys(testRedis.prefix).userStream("gina"));
    await publisher.publish([{ id: "again-2", recipients: ["gina"], event: readEvent(2) }]);
    expect(await readUserStream(redis, testRedis.prefix, "gina", pos ?? "")).toEqual({ ok: false, reason: "too_old" });
    // A client that started before the stream existed (position 0-0) still reads it whole.
    const whole = await readUserStream(redis, testRedis.prefix, "gina", "0-0");
    expect(whole.ok && whole.events.map((entry) => entry.event)).toEqual([readEvent(2)]);
  });

  it("answers an empty replay for a user with no stream yet", async () => {
    expect(await readUserStream(redis, testRedis.prefix, "nobody", "0-0")).toEqual({ ok: true, events: [], more: false, last: undefined, skipped: [] });
  });
});

describe("the publish format", () => {
  const messageEvent = (seq: number): ConversationEvent => ({
    type: "new_message",
    conversation_id: conversationId,
    message: {
      id: "0192f5a4-7c1e-7cc2-9a55-000000000001",
      conversation_id: conversationId,
      seq,
      sender_id: "sender",
      type: "text",
      content: "line one\nline two \"quoted\"",
      reply_to: null,
      attachments: [],
      created_at: "2026-11-30T12:00:00.000Z",
      edited_at: null,
      deleted: false,
    },
  });

  it("sends each recipient a small header and the client frame, the event with its pos spliced in", async () => {
    const raw: string[] = [];
    const stop = await subscriber.subscribe(busKeys(testRedis.prefix).userChannel("kim"), (text) => raw.push(text));
    const event = messageEvent(7);
    const result = await publisher.publish([{ id: "f1", recipients: ["kim", "lee"], event, committedAt: 1234 }]);
    await waitFor(() => raw.length === 1);
    const pos = result.get("f1")?.get("kim") ?? "";
    const live = parseLivePayload(raw[0] ?? "");
    expect(live?.header).toEqual({ pos, ts: 1234, t: "new_message", c: conversationId, s: 7 });
    // Byte for byte what the edge writes to the socket: no parse and re-serialise on the way.
    expect(live?.frame).toBe(JSON.stringify({ ...event, pos }));
    expect(parseEnvelope(raw[0] ?? "")).toEqual({ pos, ts: 1234, event });
    expect(result.get("f1")?.get("lee")).toMatch(/^\d+-\d+$/);
    await stop();
  });

  it("publishes a recipient's unread_count companion right after the event, in the same call, once", async () => {
    const raw = new Map<string, string[]>([["mia", []], ["ned", []]]);
    const stops = await Promise.all([...raw].map(([user, texts]) => subscriber.subscribe(busKeys(testRedis.prefix).userChannel(user), (text) => texts.push(text))));
    const event = messageEvent(8);
    const published = { id: "c1", recipients: ["mia", "ned"], event, committedAt: 99, unread: [{ userId: "ned", unread: 4, total: 9 }] };
    const first = await publisher.publish([published]);
    expect(await publisher.publish([published])).toEqual(first);
    await waitFor(() => raw.get("ned")?.length === 2 && raw.get("mia")?.length === 1);
    const companion = { type: "unread_count", conversation_id: conversationId, unread_count: 4, total: 9 };
    const [shared, own] = (raw.get("ned") ?? []).map((text) => parseLivePayload(text));
    expect(shared?.header).toEqual({ pos: first.get("c1")?.get("ned"), ts: 99, t: "new_message", c: conversationId, s: 8 });
    expect(own?.header).toMatchObject({ ts: 99, t: "unread_count", c: conversationId });
    expect(own?.header.pos).toMatch(/^\d+-\d+$/);
    expect(own?.frame).toBe(JSON.stringify({ ...companion, pos: own?.header.pos }));
    expect(comparePos(own?.header.pos ?? "", shared?.header.pos ?? "")).toBe(1);
    // Resume replays both, in order; the user without a companion gets the event alone.
    const replay = await readUserStream(redis, testRedis.prefix, "ned", "0-0");
    expect(replay.ok && replay.events.map((e) => e.event)).toEqual([event, companion]);
    const alone = await readUserStream(redis, testRedis.prefix, "mia", "0-0");
    expect(alone.ok && alone.events.map((e) => e.event)).toEqual([event]);
    await Promise.all(stops.map((stop) => stop()));
  });

  it("keeps one idempotency marker per event, whatever the number of recipients", async () => {
    const recipients = Array.from({ length: 12 }, (_, i) => `member-${i}`);
    const first = await publisher.publish([{ id: "group-1", recipients, event: readEvent(3) }]);
    const again = await publisher.publish([{ id: "group-1", recipients, event: readEvent(3) }]);
    expect(again).toEqual(first);
    expect(first.get("group-1")?.size).toBe(12);
    const markers = await redis.keys(`${testRedis.prefix}*delivered*`);
    expect(markers.filter((key) => key.includes("group-1"))).toEqual([busKeys(testRedis.prefix).eventDelivered("group-1", 0)]);
    for (const member of recipients) {
      const replay = await readUserStream(redis, testRedis.prefix, member, "0-0");
      expect(replay.ok && replay.events.length).toBe(1);
    }
  });

  it("refuses malformed payloads: no header, a bad header, or a frame not spliced for that pos", () => {
    const frame = JSON.stringify({ ...readEvent(1), pos: "1-0" });
    expect(parseLivePayload(`{"pos":"1-0","t":"messages_read"}\n${frame}`)?.header.pos).toBe("1-0");
    expect(parseLivePayload(frame)).toBeUndefined();
    expect(parseLivePayload(`{"pos":"1-0","t":"no_such_event"}\n${frame}`)).toBeUndefined();
    expect(parseLivePayload(`{"pos":"x"}\n${frame}`)).toBeUndefined();
    expect(parseLivePayload(`{"pos":"2-0","t":"messages_read"}\n${frame}`)).toBeUndefined();
    expect(parseLivePayload(`not json\n${frame}`)).toBeUndefined();
    expect(parseEnvelope(`{"pos":"1-0","t":"messages_read"}\n{"type":"messages_read","pos":"1-0"}`)).toBeUndefined();
  });

  it("orders positions numerically, not as text", () => {
    expect(comparePos("9-0", "10-0")).toBe(-1);
    expect(comparePos("10-2", "10-10")).toBe(-1);
    expect(comparePos("10-10", "10-10")).toBe(0);
    expect(comparePos("1700000000001-0", "1700000000000-99")).toBe(1);
    expect(comparePos("0-0", "1-0")).toBe(-1);
  });
});

describe("the channel subscriber", () => {
  it("subscribes once per channel and unsubscribes after the last handler leaves", async () => {
    const channel = busKeys(testRedis.prefix).userChannel("frank");
    const numsub = async () => ((await redis.pubsub("NUMSUB", channel)) as [string, number])[1];
    const a = await subscriber.subscribe(channel, () => undefined);
    const b = await subscriber.subscribe(channel, () => undefined);
    expect(await numsub()).toBe(1);
    await a();
    await a();
    expect(await numsub()).toBe(1);
    await b();
    await waitFor(async () => (await numsub()) === 0);
  });

  it("stays subscribed when a handler rejoins while the leave is in flight", async () => {
    const channel = busKeys(testRedis.prefix).userChannel("gina");
    const got: string[] = [];
    const first = await subscriber.subscribe(channel, () => undefined);
    const leaving = first();
    const second = await subscriber.subscribe(channel, (m) => got.push(m));
    await leaving;
    await redis.publish(channel, "hello");
    await waitFor(() => got.length === 1);
    await second();
  });
});

describe("the channel subscriber after a failed SUBSCRIBE", () => {
  it("forgets the handler of a SUBSCRIBE that failed, so the channel can be joined again once Redis answers", async () => {
    // Offline queue off and not connected yet: the first SUBSCRIBE fails at once, as one does while Redis is away.
    const connection = new Redis(testRedis.url, { lazyConnect: true, enableOfflineQueue: false });
    const flaky = new ChannelSubscriber(connection);
    const channel = busKeys(testRedis.prefix).userChannel("hana");
    const got: string[] = [];
    try {
      await expect(flaky.subscribe(channel, () => undefined)).rejects.toThrow();
      expect(flaky.channelCount).toBe(0);
      // The failed command started the lazy connection: Redis is back once it is ready.
      await waitFor(() => connection.status === "ready");
      const stop = await flaky.subscribe(channel, (message) => got.push(message));
      expect(((await redis.pubsub("NUMSUB", channel)) as [string, number])[1]).toBe(1);
      await redis.publish(channel, "after the outage");
      await waitFor(() => got.length === 1);
      expect(got).toEqual(["after the outage"]);
      await stop();
    } finally {
      await flaky.close();
    }
  });
});

describe("reading a stream that is being trimmed", () => {
  it("answers too_old, never a silent gap, when trimming overtakes the read", async () => {
    const stream = busKeys(testRedis.prefix).userStream("ivan");
    const small = new EventPublisher({ redis, keyPrefix: testRedis.prefix, streamMaxLength: 1000 });
    const first = await small.publish([{ id: "v0", recipients: ["ivan"], event: readEvent(1) }]);
    const since = first.get("v0")?.get("ivan") ?? "";
    for (let i = 1; i <= 5; i++) await small.publish([{ id: `v${i}`, recipients: ["ivan"], event: readEvent(i + 1) }]);
    // Retention trims between the checks and the read (another publish with MAXLEN, on another connection).
    const racing = new Proxy(redis, {
      get(target, property, receiver) {
        if (property === "xrange") {
          return async (...args: Parameters<Redis["xrange"]>) => {
            await target.xtrim(stream, "MAXLEN", 2);
            return target.xrange(...args);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    expect(await readUserStream(racing, testRedis.prefix, "ivan", since)).toEqual({ ok: false, reason: "too_old" });
  });
});

describe("reading past entries that do not parse", () => {
  it("pages past a whole page of unknown events to the valid ones after it, naming what it left out", async () => {
    const stream = busKeys(testRedis.prefix).userStream("judy");
    // Written by a newer node during a rolling deploy: event types this one does not know, and a broken entry.
    const unknown: string[] = [];
    for (let i = 0; i < 4; i++) {
      const pos = await redis.xadd(stream, "*", "e", JSON.stringify({ type: "reaction_added", conversation_id: conversationId, n: i }));
      if (pos !== null) unknown.push(pos);
    }
    const broken = await redis.xadd(stream, "*", "x", "not an event");
    await publisher.publish([1, 2, 3].map((i) => ({ id: `j${i}`, recipients: ["judy"], event: readEvent(i) })));

    const first = await readUserStream(redis, testRedis.prefix, "judy", "0-0", 2);
    expect(first).toEqual({ ok: true, events: [], more: true, last: unknown[1], skipped: unknown.slice(0, 2) });
    // Following `last` page by page, as a resume does, reaches every valid event.
    const read: number[] = [];
    const skipped: string[] = [];
    let cursor = "0-0";
    for (;;) {
      const page = await readUserStream(redis, testRedis.prefix, "judy", cursor, 2);
      if (!page.ok) throw new Error("unexpected too_old");
      for (const { event } of page.events) read.push(event.type === "messages_read" ? event.up_to_seq : 0);
      skipped.push(...page.skipped);
      if (page.last === undefined || !page.more) break;
      cursor = page.last;
    }
    expect(read).toEqual([1, 2, 3]);
    expect(skipped).toEqual([...unknown, broken]);
  });
});
