import type { Message } from "@parley/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ParleyClient } from "../src/client";
import { memoryStorage, type KeyValueStorage } from "../src/storage";
import { FakeClock, settle } from "./support/fake-clock";
import { FakeSocket } from "./support/fake-socket";
import { CONVERSATION, conversationRecord, FakeApi, message, OTHER_CONVERSATION } from "./support/fixtures";

let clock: FakeClock;
let api: FakeApi;
let clients: ParleyClient[];
/** Messages the fake history endpoint serves, per conversation. */
let history: Map<string, Message[]>;
let historyDown: boolean;

beforeEach(() => {
  clock = new FakeClock();
  clients = [];
  history = new Map();
  historyDown = false;
  FakeSocket.reset();
  api = new FakeApi().on("GET", /^\/v1\/conversations\/[^/]+\/messages$/, (url) => {
    if (historyDown) return { status: 503, body: { error: { code: "unavailable", message: "down" } } };
    const conversationId = url.pathname.split("/")[3] ?? "";
    const after = Number(url.searchParams.get("after_seq") ?? 0);
    const limit = Number(url.searchParams.get("limit") ?? 50);
    const all = (history.get(conversationId) ?? []).filter((m) => m.seq > after);
    const items = all.slice(0, limit);
    return { status: 200, body: { items, next_cursor: all.length > limit ? String(items.at(-1)?.seq) : null } };
  });
});
afterEach(() => {
  for (const client of clients) client.close();
});

async function connected(options: { storage?: KeyValueStorage; receipts?: boolean } = {}): Promise<{ client: ParleyClient; socket: FakeSocket; received: Message[] }> {
  const client = new ParleyClient({
    apiUrl: "http://api.test",
    wsUrl: "ws://edge.test/v1/ws",
    token: () => "t",
    WebSocket: FakeSocket,
    fetch: api.fetch,
    storage: options.storage ?? memoryStorage(),
    clock,
    random: () => 0.5,
    deliveryReceipts: options.receipts === true ? { intervalMs: 1_000, maxPerBatch: 2 } : false,
  });
  clients.push(client);
  const received: Message[] = [];
  client.on("message", (m) => received.push(m));
  client.connect();
  await settle();
  const socket = FakeSocket.latest();
  socket.accept({ pos: "1-0" });
  return { client, socket, received };
}

let posCounter = 10;
const live = (socket: FakeSocket, m: Message) => {
  socket.receive({ type: "new_message", conversation_id: m.conversation_id, message: m, pos: `${++posCounter}-0` });
};

describe("ordering and de-duplication", () => {
  it("releases each (conversation, seq) once, in order, and fills a gap from history", async () => {
    const { client, socket, received } = await connected();
    history.set(CONVERSATION, [1, 2, 3, 4, 5, 6].map((seq) => message(seq)));
    live(socket, message(1));
    live(socket, message(2));
    live(socket, message(2));
    live(socket, message(5));
    live(socket, message(1));
    live(socket, message(6));
    await clock.advance(0);
    expect(received.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(api.calls.filter((call) => call.url.pathname.endsWith("/messages")).map((call) => call.url.searchParams.get("after_seq"))).toEqual(["2"]);
    live(socket, message(6));
    live(socket, message(7));
    expect(received.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(client.lastSeq(CONVERSATION)).toBe(7);
  });

  it("keeps conversations independent and retries a failed fill with backoff", async () => {
    const { received, socket } = await connected();
    live(socket, message(1, { conversation: OTHER_CONVERSATION }));
    historyDown = true;
    live(socket, message(1));
    live(socket, message(3));
    await clock.advance(0);
    // History is down: nothing after the gap is released, nothing is skipped.
    expect(received.map((m) => `${m.conversation_id.slice(-2)}:${m.seq}`)).toEqual(["60:1", "5e:1"]);
    live(socket, message(2, { conversation: OTHER_CONVERSATION }));
    history.set(CONVERSATION, [1, 2, 3].map((seq) => message(seq)));
    historyDown = false;
    await clock.advance(60_000);
    expect(received.map((m) => `${m.conversation_id.slice(-2)}:${m.seq}`)).toEqual(["60:1", "5e:1", "60:2", "5e:2", "5e:3"]);
  });

  it("remembers each conversation's last seq and the stream position across a reload", async () => {
    const storage = memoryStorage();
    const first = await connected({ storage });
    live(first.socket, message(1));
    live(first.socket, message(2));
    first.client.close();
    const second = await connected({ storage });
    expect(second.socket.of("resume")[0]).toMatchObject({ since: `${posCounter}-0` });
    live(second.socket, message(2));
    live(second.socket, message(3));
    expect(second.received.map((m) => m.seq)).toEqual([3]);
  });
});

describe("resume_too_old", () => {
  it("continues from the new position and refetches each known conversation's missed messages over REST", async () => {
    const storage = memoryStorage();
    const first = await connected({ storage });
    live(first.socket, message(1));
    live(first.socket, message(1, { conversation: OTHER_CONVERSATION }));
    first.client.close();

    history.set(CONVERSATION, [1, 2, 3, 4].map((seq) => message(seq)));
    history.set(OTHER_CONVERSATION, [message(1, { conversation: OTHER_CONVERSATION })]);
    api.on("GET", /^\/v1\/conversations$/, (url) => ({
      status: 200,
      body: {
        items:
          url.searchParams.get("archived") === "true"
            ? []
            : [
                { ...conversationRecord(CONVERSATION), last_seq: 4 },
                { ...conversationRecord(OTHER_CONVERSATION), last_seq: 1 },
              ],
        next_cursor: null,
      },
    }));
    const second = await connected({ storage });
    const resyncs: string[] = [];
    second.client.on("resync", (event) => resyncs.push(event.reason));
    second.socket.fail("resume", "resume_too_old");
    await clock.advance(0);
    expect(resyncs).toEqual(["resume_too_old"]);
    expect(second.received.map((m) => `${m.conversation_id.slice(-2)}:${m.seq}`)).toEqual(["5e:2", "5e:3", "5e:4"]);
    // The next reconnect resumes from the position of the socket that could not resume, not the stale one.
    second.socket.serverClose(1006);
    await clock.advance(clock.pending()[0] ?? 0);
    expect(FakeSocket.latest().of("resume")).toEqual([]);
    FakeSocket.latest().accept({ pos: "900-0" });
    expect(FakeSocket.latest().of("resume")[0]).toMatchObject({ since: "1-0" });
  });
});

describe("delivered receipts", () => {
  it("acknowledges others' messages in batches: the highest seq per conversation, a few commands per interval", async () => {
    const { socket } = await connected({ receipts: true });
    for (let seq = 1; seq <= 30; seq += 1) live(socket, message(seq));
    live(socket, message(31, { sender: "u-me" }));
    live(socket, message(1, { conversation: OTHER_CONVERSATION }));
    live(socket, message(1, { conversation: "0192f5a4-7c1e-7cc2-9a55-1f1a2b3c4d61" }));
    await clock.advance(999);
    expect(socket.of("mark_delivered")).toHaveLength(0);
    await clock.advance(1);
    expect(socket.of("mark_delivered").map((f) => [f.conversation_id, f.up_to_seq])).toEqual([
      [CONVERSATION, 30],
      [OTHER_CONVERSATION, 1],
    ]);
    await clock.advance(1_000);
    expect(socket.of("mark_delivered")).toHaveLength(3);
  });
});

describe("a gap that history cannot serve", () => {
  it("asks a few times, then releases what waited rather than stall the conversation", async () => {
    const { socket, received } = await connected();
    history.set(CONVERSATION, [message(1), message(3)]);
    live(socket, message(1));
    live(socket, message(3));
    await clock.advance(0);
    expect(received.map((m) => m.seq)).toEqual([1]);
    await clock.advance(120_000);
    expect(received.map((m) => m.seq)).toEqual([1, 3]);
    expect(api.calls.filter((call) => call.url.pathname.endsWith("/messages")).length).toBeGreaterThanOrEqual(4);
  });
});
