import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./support/cluster-suite";
import { ackFrame, connectedFrame, errorFrame, message } from "./support/contract";
import { shape } from "./support/rest";
import { serviceToken, signToken } from "./support/tokens";
import { refusalOf, WsClient, type Frame } from "@parley/testing/ws-client";

// The WebSocket and Delivery sections of the contract against the API and two edges, all real processes.
const MESSAGE_RATE_LIMIT = 20;

const suite = useCluster({ api: { MESSAGE_RATE_LIMIT: String(MESSAGE_RATE_LIMIT) }, edge: { DRAIN_SPREAD_MS: "300ms" } });
const { rest, sockets, connect } = suite;
/** Opened without a token when the cluster started: the auth deadline runs while the other tests do. */
let silent: WsClient | undefined;

beforeAll(async () => {
  silent = await WsClient.open(suite.cluster.wsUrl(0));
});

const isEvent = (type: string, conversationId: string) => (frame: Frame) => frame.type === type && frame.conversation_id === conversationId;

describe("connecting", () => {
  it("authenticates with the Authorization header or ?access_token= and sends connected {user_id, connection_id, node, heartbeat_ms}", async () => {
    const user = await rest.register();
    const byHeader = await connect(user, 0);
    const connected = shape(connectedFrame, byHeader.of("connected")[0]);
    expect(connected.user_id).toBe(user.id);

    const byQuery = await WsClient.open(suite.cluster.wsUrl(1), { token: user.token, tokenInQuery: true });
    sockets.track(byQuery);
    const second = shape(connectedFrame, await byQuery.next((f) => f.type === "connected"));
    expect(second.user_id).toBe(user.id);
    expect(second.connection_id).not.toBe(connected.connection_id);
    expect(second.node).not.toBe(connected.node);
  });

  it("refuses a bad token with HTTP 401 before the upgrade (header or query)", async () => {
    const user = await rest.register();
    const expired = await signToken({ sub: user.id, role: "user" }, { expiresInSec: -120 });
    const foreign = await signToken({ sub: user.id, role: "user" }, { secret: "a-different-secret-that-is-long-enough-xyz" });
    for (const options of [{ token: "garbage" }, { token: "garbage", tokenInQuery: true }, { token: expired }, { token: foreign, tokenInQuery: true }]) {
      const refusal = await refusalOf(suite.cluster.wsUrl(1), options);
      expect(refusal?.status, JSON.stringify(options)).toBe(401);
    }
  });

  it("refuses a token revoked by logout, on every edge", async () => {
    const user = await rest.register();
    expect((await rest.post("/v1/auth/logout", user.token)).status).toBe(204);
    for (const n of [0, 1]) expect((await refusalOf(suite.cluster.wsUrl(n), { token: user.token }))?.status).toBe(401);
  });

  it("closes 4001 the open sockets of a token revoked by logout", async () => {
    const user = await rest.register();
    const open = await WsClient.connect(suite.cluster.wsUrl(1), user.token);
    expect((await rest.post("/v1/auth/logout", user.token)).status).toBe(204);
    expect((await open.closed).code).toBe(4001);
  });

  it("provisions an identity provider's unknown sub on its first connection, so others can reach it", async () => {
    const sub = `idp-${randomUUID()}`;
    const socket = await WsClient.connect(suite.cluster.wsUrl(0), await signToken({ sub, role: "user", name: "Only Ever On The Socket" }));
    sockets.track(socket);
    const other = await rest.register();
    const opened = await rest.post("/v1/conversations", other.token, { type: "direct", participant_ids: [sub] });
    expect(opened.status).toBe(201);
    const conversationId = (opened.body as { id: string }).id;
    await rest.send(other, conversationId, "found you");
    await socket.next(isEvent("new_message", conversationId));
  });

  it("accepts a first {type: auth} frame, answers connected, and acks the frame's id", async () => {
    const user = await rest.register();
    const client = await WsClient.open(suite.cluster.wsUrl(1));
    sockets.track(client);
    client.send({ type: "auth", token: user.token, id: "login-1" });
    shape(connectedFrame, await client.next((f) => f.type === "connected"));
    shape(ackFrame, await client.next((f) => f.id === "login-1"));
    expect(client.frames.findIndex((f) => f.type === "connected")).toBeLessThan(client.frames.findIndex((f) => f.id === "login-1"));
  });

  it("answers a bad auth frame with an error echoing its id, then closes 4001", async () => {
    const client = await WsClient.open(suite.cluster.wsUrl(0));
    client.send({ type: "auth", token: "garbage", id: "bad-login" });
    const error = shape(errorFrame, await client.next((f) => f.type === "error"));
    expect(error).toMatchObject({ id: "bad-login" });
    expect((await client.closed).code).toBe(4001);
  });

  it("closes 4010 the newest connection over the per-user cap (5), across edges", async () => {
    const user = await rest.register();
    const open: WsClient[] = [];
    for (let i = 0; i < 5; i++) open.push(await connect(user, i % 2));
    const extra = await WsClient.open(suite.cluster.wsUrl(1), { token: user.token });
    expect((await extra.closed).code).toBe(4010);
    for (const client of open) expect((await client.request({ type: "ping" })).type).toBe("pong");
  });

  it("refuses service tokens (they act through REST only): before the upgrade, or 4003 after an auth frame", async () => {
    const refusal = await refusalOf(suite.cluster.wsUrl(0), { token: await serviceToken() });
    expect(refusal?.status).toBeGreaterThanOrEqual(400);
    const client = await WsClient.open(suite.cluster.wsUrl(0));
    client.send({ type: "auth", token: await serviceToken(), id: "svc" });
    expect(shape(errorFrame, await client.next((f) => f.type === "error"))).toMatchObject({ id: "svc" });
    expect((await client.closed).code).toBe(4003);
  });
});

describe("frames", () => {
  it("answers ping with pong echoing the id; bad frames with error frames; the socket stays open", async () => {
    const client = await connect(await rest.register());
    expect(await client.request({ type: "ping" })).toMatchObject({ type: "pong" });
    const unknown = await client.request({ type: "fly_away" });
    expect(shape(errorFrame, unknown).code).toEqual(expect.any(String));
    const invalid = await client.request({ type: "send_message", conversation_id: 12 });
    shape(errorFrame, invalid);
    client.send({ nope: true });
    client.ws.send("this is not json");
    await client.next((f) => f.type === "error" && f.id === undefined);
    expect((await client.request({ type: "ping" })).type).toBe("pong");
  });

  it("closes 4008 only on persistent abuse", async () => {
    const client = await connect(await rest.register());
    for (let i = 0; i < 3; i++) client.send({ type: "no_such_frame" });
    expect((await client.request({ type: "ping" })).type).toBe("pong");
    for (let i = 0; i < 50; i++) client.send({ type: "no_such_frame" });
    expect((await client.closed).code).toBe(4008);
  });

  it("closes 1009 on a frame over the size limit", async () => {
    const client = await connect(await rest.register());
    client.send({ type: "ping", pad: "x".repeat(200 * 1024) });
    expect((await client.closed).code).toBe(1009);
  });

  it("send_message acks with the stored message; errors echo the id", async () => {
    const [ada, bob, stranger] = await Promise.all([rest.register(), rest.register(), rest.register()]);
    const conversationId = await rest.direct(ada, bob);
    const client = await connect(ada);
    const ack = shape(ackFrame, await client.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "ws-1", content: "over the socket" }));
    const stored = shape(message, ack.data);
    expect(stored).toMatchObject({ conversation_id: conversationId, seq: 1, sender_id: ada.id, content: "over the socket", type: "text", deleted: false });
    // Idempotent like REST: the same client_msg_id acks the first message again.
    const again = shape(ackFrame, await client.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "ws-1", content: "over the socket" }));
    expect(again.data).toEqual(ack.data);

    const file = { url: "https://files.example.test/plan.pdf", name: "plan.pdf", mime_type: "application/pdf", size: 2048 };
    const reply = shape(
      ackFrame,
      await client.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "ws-2", content: "see attached", reply_to: stored.id, attachments: [file] }),
    );
    expect(shape(message, reply.data)).toMatchObject({ seq: 2, reply_to: stored.id, attachments: [file] });

    const outsider = await connect(stranger);
    const refused = await outsider.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "nope", content: "let me in" });
    expect(shape(errorFrame, refused)).toMatchObject({ code: "not_found" });
    expect(shape(errorFrame, await outsider.request({ type: "subscribe", conversation_id: conversationId, since_seq: 0 }))).toMatchObject({ code: "not_found" });
    expect(shape(errorFrame, await outsider.request({ type: "typing_start", conversation_id: conversationId }))).toMatchObject({ code: "not_found" });
  });
});

describe("the first-frame deadline", () => {
  // The deadline's length is the edge's AUTH_TIMEOUT (5 s by default); its config tests own the value, not a stopwatch here.
  it("closes 4001 (auth_timeout) a socket that sent no auth frame, having sent it nothing", async () => {
    if (silent === undefined) throw new Error("the silent socket was not opened");
    expect(await silent.closed).toEqual({ code: 4001, reason: "auth_timeout" });
    expect(silent.frames).toEqual([]);
  });
});

describe("running", () => {
  it("a draining edge sends reconnect {reason, after_ms} and closes 1012; the client resumes elsewhere", async () => {
    const [ada, bob] = await Promise.all([rest.register(), rest.register()]);
    const conversationId = await rest.direct(ada, bob);
    const onDrained = await connect(bob, 1);
    await rest.send(ada, conversationId, "before the drain");
    const last = await onDrained.next(isEvent("unread_count", conversationId));
    const edge = suite.cluster.edges[1];
    if (edge === undefined) throw new Error("no second edge");
    // Every node answers the operations endpoints before this one goes.
    await expectOperationsEndpoints();
    void edge.stop("SIGTERM");
    const reconnect = await onDrained.next((f) => f.type === "reconnect");
    expect(reconnect).toMatchObject({ reason: expect.any(String) as string, after_ms: expect.any(Number) as number });
    expect((await onDrained.closed).code).toBe(1012);
    await rest.send(ada, conversationId, "during the move");
    const elsewhere = await connect(bob, 0);
    shape(ackFrame, await elsewhere.request({ type: "resume", since: last.pos }));
    const moved = await elsewhere.next(isEvent("new_message", conversationId));
    expect((moved.message as { content: string }).content).toBe("during the move");
  });
});

async function expectOperationsEndpoints(): Promise<void> {
  for (const node of suite.cluster.nodes) {
    for (const path of ["/healthz", "/readyz"]) expect((await fetch(`${node.url}${path}`)).status, `${node.name} ${path}`).toBe(200);
    // The worker has one port; the API and edges keep /metrics off their public port, on OPS_PORT.
    const worker = node.name.startsWith("worker");
    if (!worker) expect((await fetch(`${node.url}/metrics`)).status, `${node.name} public /metrics`).toBe(404);
    const metrics = await fetch(`${worker ? node.url : node.opsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    expect(await metrics.text()).toMatch(/^# HELP /m);
  }
}

// Not exercised here: `resume_too_old` needs a user's stream trimmed past what it keeps (thousands of events), and
// 4008/4009/1012 need sustained abuse, a stalled reader or a drain.
