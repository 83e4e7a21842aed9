import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ParleyClient } from "../src/client";
import type { OutboxEntry } from "../src/outbox";
import { memoryStorage, type KeyValueStorage } from "../src/storage";
import { FakeClock, settle } from "./support/fake-clock";
import { FakeSocket } from "./support/fake-socket";
import { CONVERSATION, message } from "./support/fixtures";

let clock: FakeClock;
let clients: ParleyClient[];
let ids: number;

beforeEach(() => {
  clock = new FakeClock();
  clients = [];
  ids = 0;
  FakeSocket.reset();
});
afterEach(() => {
  for (const client of clients) client.close();
});

function client(storage: KeyValueStorage, options: { outboxConcurrency?: number } = {}): ParleyClient {
  const created = new ParleyClient({
    apiUrl: "http://api.test",
    wsUrl: "ws://edge.test/v1/ws",
    token: () => "t",
    WebSocket: FakeSocket,
    storage,
    clock,
    random: () => 0.5,
    deliveryReceipts: false,
    newId: () => `cmid-${++ids}`,
    ...options,
  });
  clients.push(created);
  return created;
}

const sends = (socket: FakeSocket) => socket.of("send_message").map((frame) => frame.client_msg_id);

describe("outbox", () => {
  it("persists a message queued offline at once, so a reload sends it with the same client_msg_id", async () => {
    const storage = memoryStorage();
    const first = client(storage);
    const entry = first.send(CONVERSATION, "written on the train");
    expect(entry).toMatchObject({ state: "pending", client_msg_id: "cmid-1", content: "written on the train" });
    expect(JSON.parse(storage.getItem("parley:outbox") ?? "[]")).toEqual([expect.objectContaining({ client_msg_id: "cmid-1", state: "pending" })]);
    first.close();

    const reloaded = client(storage);
    expect(reloaded.outbox().map((e) => e.client_msg_id)).toEqual(["cmid-1"]);
    reloaded.connect();
    await settle();
    const socket = FakeSocket.latest();
    socket.accept();
    await settle();
    expect(sends(socket)).toEqual(["cmid-1"]);
    const states: string[] = [];
    reloaded.on("outbox", (e) => states.push(e.state));
    socket.ack("send_message", message(1, { sender: "u-me", content: "written on the train" }));
    await settle();
    expect(states).toEqual(["sent"]);
    expect(reloaded.outbox()).toEqual([]);
    expect(storage.getItem("parley:outbox")).toBeNull();
  });

  it("retries across reconnects with the same client_msg_id until acked", async () => {
    const c = client(memoryStorage());
    c.connect();
    await settle();
    FakeSocket.latest().accept();
    c.send(CONVERSATION, "hello");
    await settle();
    expect(sends(FakeSocket.latest())).toEqual(["cmid-1"]);
    FakeSocket.latest().serverClose(1006);
    await clock.advance(clock.pending()[0] ?? 0);
    FakeSocket.latest().accept({ pos: "2-0" });
    await settle();
    expect(sends(FakeSocket.latest())).toEqual(["cmid-1"]);
    FakeSocket.latest().ack("send_message", message(1, { sender: "u-me" }));
    await settle();
    expect(c.outbox()).toEqual([]);
  });

  it("waits retry_after_ms after rate_limited before sending again, and keeps the order", async () => {
    const c = client(memoryStorage(), { outboxConcurrency: 1 });
    c.connect();
    await settle();
    const socket = FakeSocket.latest();
    socket.accept();
    c.send(CONVERSATION, "one");
    c.send(CONVERSATION, "two");
    await settle();
    expect(sends(socket)).toEqual(["cmid-1"]);
    socket.fail("send_message", "rate_limited", { retry_after_ms: 5_000 });
    await clock.advance(4_999);
    expect(sends(socket)).toEqual(["cmid-1"]);
    await clock.advance(1);
    expect(sends(socket)).toEqual(["cmid-1", "cmid-1"]);
    socket.ack("send_message", message(1, { sender: "u-me" }));
    await settle();
    expect(sends(socket)).toEqual(["cmid-1", "cmid-1", "cmid-2"]);
  });

  it("sends again when its resume timer fires a millisecond early (Node's timers may run before Date.now() reaches their time)", async () => {
    // A clock whose longer timers run 1 ms before their time, as Node's do now and then against Date.now().
    const hasty = { now: () => clock.now(), setTimeout: (callback: () => void, ms: number) => clock.setTimeout(callback, ms > 1 ? ms - 1 : ms), clearTimeout: (handle: unknown) => clock.clearTimeout(handle) };
    const c = new ParleyClient({
      apiUrl: "http://api.test",
      wsUrl: "ws://edge.test/v1/ws",
      token: () => "t",
      WebSocket: FakeSocket,
      storage: memoryStorage(),
      clock: hasty,
      random: () => 0.5,
      deliveryReceipts: false,
      newId: () => `cmid-${++ids}`,
      outboxConcurrency: 1,
    });
    clients.push(c);
    c.connect();
    await settle();
    const socket = FakeSocket.latest();
    socket.accept();
    c.send(CONVERSATION, "one");
    await settle();
    socket.fail("send_message", "unavailable");
    await clock.advance(60_000);
    expect(sends(socket)).toEqual(["cmid-1", "cmid-1"]);
  });

  it("marks a refused message failed (kept, with the code) and lets it be retried or discarded", async () => {
    const storage = memoryStorage();
    const c = client(storage);
    c.connect();
    await settle();
    const socket = FakeSocket.latest();
    socket.accept();
    const changes: OutboxEntry[] = [];
    c.on("outbox", (entry) => changes.push(entry));
    c.send(CONVERSATION, "x".repeat(10));
    await settle();
    socket.fail("send_message", "message_too_large");
    await settle();
    expect(c.outbox()).toEqual([expect.objectContaining({ state: "failed", error: { code: "message_too_large", message: "message_too_large" } })]);
    expect(JSON.parse(storage.getItem("parley:outbox") ?? "[]")).toEqual([expect.objectContaining({ state: "failed" })]);
    c.retrySend("cmid-1");
    await settle();
    expect(sends(socket)).toEqual(["cmid-1", "cmid-1"]);
    socket.fail("send_message", "forbidden");
    await settle();
    c.discardSend("cmid-1");
    expect(c.outbox()).toEqual([]);
    expect(changes.map((entry) => entry.state)).toEqual(["pending", "failed", "pending", "failed"]);
  });

  it("keeps a long offline queue under the in-flight bound when it flushes", async () => {
    const c = client(memoryStorage(), { outboxConcurrency: 8 });
    for (let i = 0; i < 200; i += 1) c.send(CONVERSATION, `offline ${i}`);
    c.connect();
    await settle();
    const socket = FakeSocket.latest();
    socket.accept();
    await settle();
    expect(sends(socket)).toHaveLength(8);
    for (let i = 0; i < 200; i += 1) {
      socket.ack("send_message", message(i + 1, { sender: "u-me" }), i);
      await settle();
      const unanswered = sends(socket).length - (i + 1);
      expect(unanswered).toBeLessThanOrEqual(8);
    }
    expect(sends(socket)).toEqual(Array.from({ length: 200 }, (_, i) => `cmid-${i + 1}`));
    expect(c.outbox()).toEqual([]);
  });
});
