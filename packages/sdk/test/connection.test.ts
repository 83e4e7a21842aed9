import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ParleyClient } from "../src/client";
import { ParleyRequestError, ParleyTerminalError } from "../src/errors";
import { memoryStorage, type KeyValueStorage } from "../src/storage";
import type { TokenProvider } from "../src/token-provider";
import { FakeClock, settle } from "./support/fake-clock";
import { FakeSocket } from "./support/fake-socket";
import { CONVERSATION, FakeApi, tokenExpiringAt } from "./support/fixtures";

let clock: FakeClock;
let clients: ParleyClient[];

beforeEach(() => {
  clock = new FakeClock();
  clients = [];
  FakeSocket.reset();
});
afterEach(() => {
  for (const client of clients) client.close();
});

function start(
  options: { token?: TokenProvider; storage?: KeyValueStorage; random?: () => number; wsUrl?: string[]; api?: FakeApi; pingAfterMs?: number } = {},
): ParleyClient {
  const client = new ParleyClient({
    apiUrl: "http://api.test",
    wsUrl: options.wsUrl ?? ["ws://edge-1.test/v1/ws", "ws://edge-2.test/v1/ws"],
    token: options.token ?? (() => "token-1"),
    WebSocket: FakeSocket,
    fetch: (options.api ?? new FakeApi()).fetch,
    storage: options.storage ?? memoryStorage(),
    clock,
    random: options.random ?? (() => 0.5),
    reconnect: { initialDelayMs: 1_000, maxDelayMs: 8_000, factor: 2 },
    deliveryReceipts: false,
    heartbeat: { pingAfterMs: options.pingAfterMs ?? 25_000, pongTimeoutMs: 10_000 },
  });
  clients.push(client);
  client.connect();
  return client;
}

/** The newest socket, once the client opened it and the edge accepted it. */
async function acceptedSocket(): Promise<FakeSocket> {
  await settle();
  const socket = FakeSocket.latest();
  socket.accept();
  return socket;
}

describe("connecting", () => {
  it("authenticates with a first auth frame (never a token in the URL), then reports open", async () => {
    const client = start();
    const states: string[] = [];
    client.on("state", (state) => states.push(state));
    await settle();
    const socket = FakeSocket.latest();
    expect(socket.url).toBe("ws://edge-1.test/v1/ws");
    socket.open();
    expect(socket.sent).toEqual([{ type: "auth", token: "token-1" }]);
    socket.receive({ type: "connected", user_id: "u-me", connection_id: "c1", node: "edge-1", heartbeat_ms: 30_000, pos: "5-0" });
    expect(client.state).toBe("open");
    expect(client.userId).toBe("u-me");
    expect(client.node).toBe("edge-1");
    expect(states).toEqual(["open"]);
  });

  it("resumes from the stored position on every reconnect, before any other command", async () => {
    const storage = memoryStorage();
    const client = start({ storage });
    await settle();
    FakeSocket.latest().accept({ pos: "10-0" });
    FakeSocket.latest().receive({ type: "messages_read", conversation_id: CONVERSATION, user_id: "u-other", up_to_seq: 3, pos: "11-0" });
    const read = client.markRead(CONVERSATION, 3);
    FakeSocket.latest().serverClose(1006);
    await clock.advance(500);
    const second = FakeSocket.latest();
    expect(second.url).toBe("ws://edge-2.test/v1/ws");
    second.accept({ pos: "12-0" });
    expect(second.sent.slice(1).map((frame) => frame.type)).toEqual(["resume", "mark_read"]);
    expect(second.of("resume")[0]).toMatchObject({ since: "11-0" });
    second.ack("resume", { since: "11-0" });
    second.ack("mark_read", { unread_count: 0, last_read_seq: 3 });
    await expect(read).resolves.toEqual({ unread_count: 0, last_read_seq: 3 });
  });
});

describe("reconnecting", () => {
  it("waits a full-jitter exponential delay, capped, between failed attempts, and says offline after three", async () => {
    const random = vi.fn(() => 0.75);
    const client = start({ random });
    const states: string[] = [];
    client.on("state", (state) => states.push(state));
    await settle();
    const waits: number[] = [];
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const before = FakeSocket.all.length;
      FakeSocket.latest().serverClose(1006);
      await settle();
      waits.push(clock.pending()[0] ?? -1);
      await clock.advance(clock.pending()[0] ?? 0);
      expect(FakeSocket.all.length).toBe(before + 1);
    }
    // 0.75 × min(8000, 1000 × 2^attempt)
    expect(waits).toEqual([750, 1500, 3000, 6000, 6000, 6000]);
    expect(states).toEqual(["reconnecting", "offline"]);
    FakeSocket.latest().accept();
    expect(states.at(-1)).toBe("open");
    // A successful connect resets the backoff.
    FakeSocket.latest().serverClose(1006);
    await settle();
    expect(clock.pending()[0]).toBe(750);
  });

  it("honours reconnect {after_ms} from a draining edge, then the 1012 close, without extra backoff", async () => {
    start({ random: () => 0.99 });
    await settle();
    const first = FakeSocket.latest();
    first.accept();
    first.receive({ type: "reconnect", reason: "draining", after_ms: 4_000 });
    await clock.advance(3_990);
    first.serverClose(1012);
    await settle();
    expect(FakeSocket.all).toHaveLength(1);
    await clock.advance(9);
    expect(FakeSocket.all).toHaveLength(1);
    await clock.advance(1);
    expect(FakeSocket.all).toHaveLength(2);
    expect(FakeSocket.latest().url).toBe("ws://edge-2.test/v1/ws");
  });

  it.each([
    [4003, "forbidden"],
    [4008, "abuse"],
    [4010, "too_many_connections"],
  ])("stops for good on close %i with a typed terminal error", async (code, reason) => {
    const client = start();
    await settle();
    FakeSocket.latest().accept();
    const terminal = vi.fn();
    client.on("terminal", terminal);
    const pending = client.markRead(CONVERSATION, 1);
    FakeSocket.latest().serverClose(code);
    await expect(pending).rejects.toMatchObject({ name: "ParleyTerminalError", reason, closeCode: code });
    expect(client.state).toBe("closed");
    expect(terminal).toHaveBeenCalledWith(expect.any(ParleyTerminalError));
    await clock.advance(120_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("asks for a fresh token after 4001 and reconnects; a second refusal in a row is terminal", async () => {
    let n = 0;
    const reasons: string[] = [];
    const client = start({
      token: ({ reason }) => {
        reasons.push(reason);
        return `token-${++n}`;
      },
    });
    await settle();
    FakeSocket.latest().accept();
    FakeSocket.latest().serverClose(4001);
    await clock.advance(0);
    expect(reasons).toEqual(["initial", "rejected"]);
    FakeSocket.latest().open();
    expect(FakeSocket.latest().sent[0]).toEqual({ type: "auth", token: "token-2" });
    FakeSocket.latest().serverClose(4001);
    await clock.advance(0);
    expect(client.state).toBe("closed");
  });
});

describe("dead sockets and tokens", () => {
  it("pings after a silence and abandons the socket when the pong does not come", async () => {
    start();
    const socket = await acceptedSocket();
    await clock.advance(24_999);
    expect(socket.of("ping")).toHaveLength(0);
    await clock.advance(1);
    expect(socket.of("ping")).toHaveLength(1);
    await clock.advance(9_999);
    expect(FakeSocket.all).toHaveLength(1);
    await clock.advance(1);
    expect(socket.closedWith).toBe(4000);
    await clock.advance(clock.pending()[0] ?? 0);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it("keeps a socket that answers: any frame counts", async () => {
    start();
    const socket = await acceptedSocket();
    await clock.advance(25_000);
    socket.receive({ type: "pong", id: socket.of("ping")[0]?.id });
    await clock.advance(20_000);
    expect(socket.closedWith).toBeUndefined();
  });

  it("refreshes the token on the open socket before it expires, and again for the next one", async () => {
    const reasons: string[] = [];
    let n = 0;
    start({
      token: ({ reason }) => {
        reasons.push(reason);
        n += 1;
        return tokenExpiringAt(clock.now() + 10 * 60_000, n);
      },
      // No pings in this test: the fake server would not answer them.
      pingAfterMs: 3_600_000,
    });
    const socket = await acceptedSocket();
    await clock.advance(9 * 60_000 - 1);
    expect(socket.of("auth")).toHaveLength(1);
    await clock.advance(1);
    expect(reasons).toEqual(["initial", "refresh"]);
    expect(socket.sent.at(-1)).toMatchObject({ type: "auth", id: expect.any(String) as string });
    socket.ack("auth", { user_id: "u-me", expires_at: new Date(clock.now() + 600_000).toISOString() });
    await clock.advance(9 * 60_000);
    expect(reasons).toEqual(["initial", "refresh", "refresh"]);
    expect(FakeSocket.all).toHaveLength(1);
  });
});

describe("commands", () => {
  it("resolves with the typed ack data and rejects with the protocol code", async () => {
    const client = start();
    const socket = await acceptedSocket();
    const ok = client.command("mark_delivered", { conversation_id: CONVERSATION, up_to_seq: 4 });
    socket.ack("mark_delivered", { conversation_id: CONVERSATION, delivered_seq: 4 });
    await expect(ok).resolves.toEqual({ conversation_id: CONVERSATION, delivered_seq: 4 });
    const refused = client.command("mark_read", { conversation_id: CONVERSATION, up_to_seq: 1 });
    socket.fail("mark_read", "not_found");
    const error: unknown = await refused.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ParleyRequestError);
    expect(error).toMatchObject({ code: "not_found" });
  });

  it("keeps at most maxInFlight commands unanswered and queues the rest", async () => {
    const client = new ParleyClient({
      apiUrl: "http://api.test",
      token: () => "t",
      WebSocket: FakeSocket,
      clock,
      maxInFlight: 4,
      deliveryReceipts: false,
    });
    clients.push(client);
    client.connect();
    await settle();
    const socket = FakeSocket.latest();
    expect(socket.url).toBe("ws://api.test/v1/ws");
    socket.accept();
    const answers = Array.from({ length: 10 }, (_, i) => client.markRead(CONVERSATION, i));
    expect(socket.of("mark_read")).toHaveLength(4);
    socket.ack("mark_read", { unread_count: 0, last_read_seq: 0 }, 0);
    await settle();
    expect(socket.of("mark_read")).toHaveLength(5);
    for (let i = 1; i < 10; i += 1) {
      socket.ack("mark_read", { unread_count: 0, last_read_seq: i }, i);
      await settle();
    }
    await expect(Promise.all(answers)).resolves.toHaveLength(10);
  });
});

describe("a socket closing before its close event", () => {
  it("keeps commands queued (no busy loop) and writes them on the next socket", async () => {
    const client = start();
    await settle();
    const first = FakeSocket.latest();
    first.accept();
    first.readyState = 2;
    const read = client.markRead(CONVERSATION, 1);
    expect(first.of("mark_read")).toHaveLength(0);
    first.serverClose(1006);
    await clock.advance(clock.pending()[0] ?? 0);
    const second = FakeSocket.latest();
    second.accept();
    second.ack("mark_read", { unread_count: 0, last_read_seq: 1 });
    await expect(read).resolves.toEqual({ unread_count: 0, last_read_seq: 1 });
  });
});
