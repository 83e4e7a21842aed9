import type { Message } from "@parley/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ParleyClient } from "../src/client";
import { memoryStorage } from "../src/storage";
import { FakeClock, settle } from "./support/fake-clock";
import { FakeSocket } from "./support/fake-socket";
import { CONVERSATION, conversationRecord, FakeApi, message } from "./support/fixtures";

let clock: FakeClock;
let client: ParleyClient;
let socket: FakeSocket;
const stored: Message[] = Array.from({ length: 120 }, (_, i) => message(i + 1));

beforeEach(async () => {
  stored.length = 120;
  clock = new FakeClock();
  FakeSocket.reset();
  const api = new FakeApi()
    .on("GET", /^\/v1\/conversations\/[^/]+\/messages$/, (url) => {
      const before = Number(url.searchParams.get("before_seq") ?? Infinity);
      const after = Number(url.searchParams.get("after_seq") ?? 0);
      const limit = Number(url.searchParams.get("limit") ?? 50);
      const matching = stored.filter((m) => m.seq > after && m.seq < before);
      const items = url.searchParams.has("after_seq") ? matching.slice(0, limit) : matching.slice(-limit);
      const more = url.searchParams.has("after_seq") ? matching.length > limit : matching.length > limit;
      return { status: 200, body: { items, next_cursor: more ? String(url.searchParams.has("after_seq") ? items.at(-1)?.seq : items[0]?.seq) : null } };
    })
    .on("GET", /^\/v1\/conversations\/[^/]+$/, () => ({
      status: 200,
      body: {
        ...conversationRecord(CONVERSATION),
        last_seq: 120,
        participants: [
          { user_id: "u-me", role: "member", joined_at: new Date(0).toISOString(), last_read_seq: 120, delivered_seq: 0 },
          { user_id: "u-other", role: "member", joined_at: new Date(0).toISOString(), last_read_seq: 100, delivered_seq: 110 },
        ],
      },
    }));
  client = new ParleyClient({ apiUrl: "http://api.test", token: () => "t", WebSocket: FakeSocket, fetch: api.fetch, storage: memoryStorage(), clock, deliveryReceipts: false });
  client.connect();
  await settle();
  socket = FakeSocket.latest();
  socket.accept();
});
afterEach(() => {
  client.close();
});

describe("conversation view", () => {
  it("loads the newest page, pages upward, and appends live messages once, in order", async () => {
    const view = client.conversation(CONVERSATION);
    expect(client.conversation(CONVERSATION)).toBe(view);
    await view.load();
    expect(view.messages.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 71 + i));
    expect(view.readUpTo.get("u-other")).toBe(100);
    expect(view.deliveredUpTo.get("u-other")).toBe(110);
    expect(await view.loadOlder()).toBe(50);
    expect(await view.loadOlder()).toBe(20);
    expect(view.hasOlder).toBe(false);
    expect(await view.loadOlder()).toBe(0);
    expect(view.messages.map((m) => m.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));

    stored.push(message(121), message(122));
    socket.receive({ type: "new_message", conversation_id: CONVERSATION, message: message(122), pos: "200-0" });
    socket.receive({ type: "new_message", conversation_id: CONVERSATION, message: message(120), pos: "201-0" });
    await clock.advance(0);
    expect(view.messages.map((m) => m.seq).slice(-4)).toEqual([119, 120, 121, 122]);
    expect(view.messages).toHaveLength(122);
  });

  it("shows pending sends until acked, edits and deletions in place, typing that expires, receipts that never go back", async () => {
    const view = client.conversation(CONVERSATION);
    await view.load();
    let changes = 0;
    view.on("change", () => (changes += 1));
    const entry = view.send("on its way");
    expect(view.pending.map((e) => e.client_msg_id)).toEqual([entry.client_msg_id]);
    await settle();
    socket.ack("send_message", message(121, { sender: "u-me", content: "on its way" }));
    await settle();
    expect(view.pending).toEqual([]);
    expect(view.messages.at(-1)).toMatchObject({ seq: 121, content: "on its way" });

    socket.receive({ type: "message_updated", conversation_id: CONVERSATION, message: { ...message(120), content: "edited", edited_at: new Date().toISOString() }, pos: "300-0" });
    socket.receive({ type: "message_deleted", conversation_id: CONVERSATION, message_id: message(119).id, seq: 119, pos: "301-0" });
    expect(view.messages.find((m) => m.seq === 120)?.content).toBe("edited");
    expect(view.messages.find((m) => m.seq === 119)).toMatchObject({ deleted: true, content: null });

    socket.receive({ type: "typing", conversation_id: CONVERSATION, user_id: "u-other", is_typing: true });
    expect(view.typing).toEqual(["u-other"]);
    await clock.advance(6_000);
    expect(view.typing).toEqual([]);

    socket.receive({ type: "messages_delivered", conversation_id: CONVERSATION, user_id: "u-other", up_to_seq: 121, pos: "302-0" });
    socket.receive({ type: "messages_read", conversation_id: CONVERSATION, user_id: "u-other", up_to_seq: 90, pos: "303-0" });
    expect(view.deliveredUpTo.get("u-other")).toBe(121);
    expect(view.readUpTo.get("u-other")).toBe(100);
    expect(changes).toBeGreaterThanOrEqual(6);
  });
});

describe("a view opened while the API is down", () => {
  it("asks again on the next load() after a failure (not the first answer cached)", async () => {
    let down = true;
    const api = new FakeApi()
      .on("GET", /^\/v1\/conversations\/[^/]+\/messages$/, () => (down ? { status: 503, body: { error: { code: "unavailable", message: "down" } } } : { status: 200, body: { items: [message(1)], next_cursor: null } }))
      .on("GET", /^\/v1\/conversations\/[^/]+$/, () => (down ? { status: 503, body: { error: { code: "unavailable", message: "down" } } } : { status: 404, body: { error: { code: "not_found", message: "gone" } } }));
    const offline = new ParleyClient({ apiUrl: "http://api.test", token: () => "t", WebSocket: FakeSocket, fetch: api.fetch, clock, deliveryReceipts: false });
    const view = offline.conversation(CONVERSATION);
    await expect(view.load()).rejects.toMatchObject({ code: "unavailable", status: 503 });
    down = false;
    await expect(view.load()).rejects.toMatchObject({ code: "not_found", status: 404 });
    offline.close();
  });
});
