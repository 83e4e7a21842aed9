import { closeCodeOf } from "@parley/protocol";
import { INTERNAL_CHANNEL_PATH, type InternalCommand, type InternalResult } from "@parley/protocol/internal";
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { WebSocket } from "ws";
import { INTERNAL_SECRET, TestCluster, type RunningEdge, type TestUser } from "./support/cluster";
import { WsClient } from "@parley/testing/ws-client";

let cluster: TestCluster;
let edge: RunningEdge;
let clients: WsClient[] = [];
let channels: WebSocket[] = [];

sharedPerFile(async () => {
  cluster = await TestCluster.start();
  edge = await cluster.startEdge();
  return cluster;
});

afterEach(() => {
  for (const client of clients) client.ws.terminate();
  for (const ws of channels) ws.terminate();
  clients = [];
  channels = [];
});

const channelUrl = () => `${cluster.api.url.replace(/^http/, "ws")}${INTERNAL_CHANNEL_PATH}`;

/** The claims the edge forwards, read from the token it verified. */
function actorOf(user: TestUser): InternalCommand["actor"] {
  const payload = JSON.parse(Buffer.from(user.token.split(".")[1] ?? "", "base64url").toString("utf8")) as { sub: string; role: string; jti?: string; exp: number };
  return { sub: payload.sub, role: payload.role, exp: payload.exp, ...(payload.jti === undefined ? {} : { jti: payload.jti }) };
}

/** A raw channel client, as an edge: sends frames and collects results by id. */
async function openChannel(secret = INTERNAL_SECRET): Promise<{ ws: WebSocket; results: Map<number, InternalResult>; closed: Promise<number> }> {
  const ws = new WebSocket(channelUrl(), { headers: { authorization: `Bearer ${secret}` } });
  channels.push(ws);
  const results = new Map<number, InternalResult>();
  ws.on("message", (data: Buffer) => {
    const frame = JSON.parse(data.toString("utf8")) as { type: string; results: InternalResult[] };
    for (const result of frame.results) results.set(result.id, result);
  });
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)));
    ws.once("error", reject);
  });
  return { ws, results, closed };
}

async function waitForResults(results: Map<number, InternalResult>, count: number): Promise<void> {
  await expect.poll(() => results.size, { timeout: 10_000 }).toBe(count);
}

describe("the internal channel", () => {
  it("runs one frame of sends from several users, answering each command by id with what REST answers", async () => {
    const users = await Promise.all([cluster.register(), cluster.register(), cluster.register(), cluster.register()]);
    const [a, b, c, d] = users;
    const [ab, cd] = await Promise.all([cluster.directConversation(a, b), cluster.directConversation(c, d)]);
    const { ws, results } = await openChannel();
    const send = (id: number, user: TestUser, conversation: string): InternalCommand => ({
      id,
      op: "send_message",
      actor: actorOf(user),
      target: conversation,
      args: { client_msg_id: `m-${id}`, content: `hello ${id}` },
    });
    ws.send(JSON.stringify({ type: "commands", commands: [send(1, a, ab), send(2, b, ab), send(3, c, cd), send(4, d, cd)] }));
    await waitForResults(results, 4);
    for (const [id, user] of [[1, a], [2, b], [3, c], [4, d]] as const) {
      const result = results.get(id);
      expect(result).toMatchObject({ ok: true, status: 201, body: { sender_id: user.id, content: `hello ${id}` } });
    }
    // Gap-free per conversation, whatever order the group commit took.
    const seqs = (ids: number[]) => ids.map((id) => (results.get(id) as { body: { seq: number } }).body.seq).sort();
    expect(seqs([1, 2])).toEqual([1, 2]);
    expect(seqs([3, 4])).toEqual([1, 2]);
    // The messages are really stored: REST history shows them.
    const history = await cluster.request<{ items: { content: string }[] }>("GET", `/v1/conversations/${ab}/messages`, { token: a.token });
    expect(history.body.items.map((item) => item.content).sort()).toEqual(["hello 1", "hello 2"]);
  });

  it("answers a refused command with the error REST gives for the same request", async () => {
    const [a, b] = await Promise.all([cluster.register(), cluster.register()]);
    const conversation = await cluster.directConversation(a, b);
    const { ws, results } = await openChannel();
    const unknown = randomUUID();
    ws.send(
      JSON.stringify({
        type: "commands",
        commands: [
          { id: 1, op: "send_message", actor: actorOf(a), target: unknown, args: { client_msg_id: "x", content: "hi" } },
          { id: 2, op: "send_message", actor: actorOf(a), target: conversation, args: { client_msg_id: "y", content: "" } },
          { id: 3, op: "edit_message", actor: actorOf(b), target: "not-a-uuid", args: { content: "x" } },
          { id: 4, op: "mark_read", actor: actorOf(a), target: conversation, args: { up_to_seq: -1 } },
        ],
      }),
    );
    await waitForResults(results, 4);
    const rest = await Promise.all([
      cluster.request("POST", `/v1/conversations/${unknown}/messages`, { token: a.token, body: { client_msg_id: "x", content: "hi" } }),
      cluster.request("POST", `/v1/conversations/${conversation}/messages`, { token: a.token, body: { client_msg_id: "y", content: "" } }),
      cluster.request("PATCH", `/v1/messages/not-a-uuid`, { token: b.token, body: { content: "x" } }),
      cluster.request("POST", `/v1/conversations/${conversation}/read`, { token: a.token, body: { up_to_seq: -1 } }),
    ]);
    rest.forEach((answer, index) => {
      const result = results.get(index + 1);
      expect(result).toEqual({ id: index + 1, ok: false, status: answer.status, error: (answer.body as { error: unknown }).error });
    });
  });

  it("refuses a command of a revoked token, and the edge closes that token's sockets", async () => {
    const [a, b] = await Promise.all([cluster.register(), cluster.register()]);
    const conversation = await cluster.directConversation(a, b);
    const client = await WsClient.connect(edge.url, a.token);
    clients.push(client);
    expect(await cluster.request("POST", "/v1/auth/logout", { token: a.token })).toMatchObject({ status: 204 });
    const { ws, results } = await openChannel();
    ws.send(JSON.stringify({ type: "commands", commands: [{ id: 7, op: "send_message", actor: actorOf(a), target: conversation, args: { client_msg_id: "r", content: "hi" } }] }));
    await waitForResults(results, 1);
    expect(results.get(7)).toMatchObject({ ok: false, status: 401, error: { code: "token_revoked" } });
    expect((await client.closed).code).toBe(closeCodeOf("token_revoked"));
  });

  it("refuses an expired actor", async () => {
    const [a, b] = await Promise.all([cluster.register(), cluster.register()]);
    const conversation = await cluster.directConversation(a, b);
    const { ws, results } = await openChannel();
    const actor = { ...actorOf(a), exp: Math.floor(Date.now() / 1000) - 60 };
    ws.send(JSON.stringify({ type: "commands", commands: [{ id: 1, op: "get_conversation", actor, target: conversation }] }));
    await waitForResults(results, 1);
    expect(results.get(1)).toMatchObject({ ok: false, status: 401, error: { code: "token_expired" } });
  });

  it("refuses an upgrade without the secret or with a wrong one", async () => {
    await expect(openChannel("a-wrong-secret-that-is-long-enough-to-look-real")).rejects.toThrow("handshake answered 401");
    const bare = new WebSocket(channelUrl());
    channels.push(bare);
    const status = await new Promise<number>((resolve) => {
      bare.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      bare.once("open", () => resolve(101));
      bare.once("error", () => undefined);
    });
    expect(status).toBe(401);
  });

  it("closes the channel on a frame that does not parse, and a new one works", async () => {
    const { ws, closed } = await openChannel();
    ws.send(JSON.stringify({ type: "commands", commands: [{ id: "one", op: "drop_tables" }] }));
    expect(await closed).toBe(1008);
    const again = await openChannel();
    const user = await cluster.register();
    again.ws.send(JSON.stringify({ type: "commands", commands: [{ id: 1, op: "me", actor: actorOf(user) }] }));
    await waitForResults(again.results, 1);
    expect(again.results.get(1)).toMatchObject({ ok: true, status: 200, body: { id: user.id } });
  });

  it("an edge with a wrong secret keeps working over REST, as does an edge without one", async () => {
    for (const secret of ["an-edge-secret-that-the-api-does-not-know-at-all", ""]) {
      const fallbackEdge = await cluster.startEdge({ INTERNAL_SECRET: secret });
      expect(fallbackEdge.node.internalChannelOpen).toBe(false);
      const [a, b] = await Promise.all([cluster.register(), cluster.register()]);
      const conversation = await cluster.directConversation(a, b);
      const [sender, receiver] = await Promise.all([WsClient.connect(fallbackEdge.url, a.token), WsClient.connect(edge.url, b.token)]);
      clients.push(sender, receiver);
      const ack = await sender.request({ type: "send_message", conversation_id: conversation, client_msg_id: "f1", content: "via REST" });
      expect(ack).toMatchObject({ type: "ack", data: { content: "via REST", seq: 1 } });
      const refused = await sender.request({ type: "send_message", conversation_id: randomUUID(), client_msg_id: "f2", content: "nowhere" });
      expect(refused).toMatchObject({ type: "error", code: "not_found" });
      await receiver.next((frame) => frame.type === "new_message" && frame.conversation_id === conversation);
      expect(fallbackEdge.node.internalChannelOpen).toBe(false);
      await fallbackEdge.node.close();
    }
  });

  it("an edge on the channel answers socket commands with the same frames as before", async () => {
    expect(edge.node.internalChannelOpen).toBe(true);
    const [a, b] = await Promise.all([cluster.register(), cluster.register()]);
    const conversation = await cluster.directConversation(a, b);
    const client = await WsClient.connect(edge.url, a.token);
    clients.push(client);
    const sent = await client.request({ type: "send_message", conversation_id: conversation, client_msg_id: "e1", content: "over the channel" });
    expect(sent).toMatchObject({ type: "ack", data: { content: "over the channel", seq: 1, sender_id: a.id } });
    expect(await client.request({ type: "send_message", conversation_id: conversation, client_msg_id: "e2", content: "" })).toMatchObject({
      type: "error",
      code: "invalid_request",
      field: "content",
    });
    expect(await client.request({ type: "mark_read", conversation_id: randomUUID(), up_to_seq: 1 })).toMatchObject({ type: "error", code: "not_found" });
    expect(await client.request({ type: "watch_presence", user_ids: [b.id] })).toMatchObject({ type: "ack", data: { items: [{ user_id: b.id }] } });
    expect(await client.request({ type: "subscribe", conversation_id: conversation, since_seq: 0 })).toMatchObject({ type: "ack" });
    await client.next((frame) => frame.type === "new_message" && (frame.message as { content: string }).content === "over the channel");
  });
});
