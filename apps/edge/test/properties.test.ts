import { clientFrameSchemas, CloseCode, ERRORS, isErrorCode, type ClientFrameType } from "@parley/protocol";
import { hostileValue, validOrHostile } from "@parley/testing";
import fc from "fast-check";
import { randomUUID } from "node:crypto";
import { WebSocket } from "ws";
import { afterAll, describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { TestCluster, type RunningEdge, type TestUser } from "./support/cluster";

// Every client frame type, generated from its protocol schema plus hostile mutations and raw garbage: each frame
// gets one documented answer (ack, pong or an error with a documented code) or a documented close, never
// internal_error, unavailable or 4000, and the nodes are still ready afterwards.

let cluster: TestCluster;
let edge: RunningEdge;
let alice: TestUser;
let bob: TestUser;
let conversationId: string;

const RUNS = Number(process.env.PARLEY_PROPERTY_RUNS ?? "120");
const DOCUMENTED_CLOSES = new Set<number>([CloseCode.normal, CloseCode.frameTooLarge, CloseCode.badToken, CloseCode.forbidden, CloseCode.rateLimited, CloseCode.slowConsumer, CloseCode.tooManyConnections]);

sharedPerFile(async () => {
  cluster = await TestCluster.start({ MESSAGE_RATE_LIMIT: "1000000", REQUEST_RATE_LIMIT: "1000000", IP_REQUEST_RATE_LIMIT: "1000000", MAX_MESSAGE_LENGTH: "2000" });
  edge = await cluster.startEdge({ MAX_CONNECTIONS_PER_USER: "1000", MAX_PAYLOAD_BYTES: "16384" });
  [alice, bob] = await Promise.all([cluster.register(), cluster.register()]);
  conversationId = await cluster.directConversation(alice, bob);
  return cluster;
});
afterAll(() => {
  socket?.terminate();
});

let socket: WebSocket | undefined;
let inbox: Record<string, unknown>[] = [];
let closedWith: number | undefined;

/** The property's socket: reopened after a documented close. */
async function openSocket(): Promise<WebSocket> {
  if (socket?.readyState === WebSocket.OPEN) return socket;
  const ws = new WebSocket(edge.url, { headers: { authorization: `Bearer ${alice.token}` } });
  inbox = [];
  closedWith = undefined;
  ws.on("message", (data: Buffer) => inbox.push(JSON.parse(data.toString("utf8")) as Record<string, unknown>));
  ws.on("close", (code) => {
    closedWith = code;
  });
  ws.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  await waitUntil(() => inbox.some((frame) => frame.type === "connected"), "connected");
  socket = ws;
  return ws;
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const ANSWERS = new Set(["ack", "error", "pong"]);

/** Sends one frame and checks its one answer, or the documented close it caused. */
async function check(payload: string | Buffer, description: string): Promise<void> {
  const ws = await openSocket();
  const before = inbox.length;
  ws.send(payload);
  await waitUntil(() => closedWith !== undefined || inbox.slice(before).some((frame) => typeof frame.type === "string" && ANSWERS.has(frame.type)), `answer to ${description}`);
  const answer = inbox.slice(before).find((frame) => typeof frame.type === "string" && ANSWERS.has(frame.type));
  if (answer === undefined) {
    if (closedWith === undefined || !DOCUMENTED_CLOSES.has(closedWith)) throw new Error(`${description} → close ${String(closedWith)}`);
    socket = undefined;
    return;
  }
  if (answer.type !== "error") return;
  const code = answer.code;
  if (typeof code !== "string" || !isErrorCode(code) || code === "internal_error" || code === "unavailable") {
    throw new Error(`${description} → ${JSON.stringify(answer)}`);
  }
  expect(ERRORS[code]).toBeDefined();
}

/** Known ids in the places a real client puts them, so valid frames reach the API and the stores. */
function withKnownIds(frame: unknown, pick: number): unknown {
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return frame;
  const record = { ...(frame as Record<string, unknown>) };
  if (pick % 2 === 0 && typeof record.conversation_id === "string") record.conversation_id = conversationId;
  if (pick % 3 === 0 && Array.isArray(record.user_ids)) record.user_ids = [bob.id];
  if (typeof record.client_msg_id === "string") record.client_msg_id = randomUUID();
  return record;
}

const frameTypes = Object.keys(clientFrameSchemas) as ClientFrameType[];

describe("every WebSocket frame type answers hostile input with a documented answer", () => {
  it.each(frameTypes)("%s", async (type) => {
    const frames = fc.tuple(validOrHostile(clientFrameSchemas[type]), fc.nat()).map(([frame, pick]) => withKnownIds(frame, pick));
    await fc.assert(
      fc.asyncProperty(frames, async (frame) => {
        const text = JSON.stringify(frame) as string | undefined;
        await check(text ?? "null", `${type} ${(text ?? "").slice(0, 300)}`);
      }),
      { numRuns: type === "auth" ? Math.ceil(RUNS / 3) : RUNS },
    );
  });

  it("raw garbage: not JSON, not objects, unknown types, binary, oversized", async () => {
    const garbage = fc.oneof(
      fc.string({ maxLength: 200 }),
      hostileValue().map((value) => JSON.stringify(value) as string | undefined ?? "undefined"),
      fc.record({ type: fc.string({ maxLength: 30 }), id: fc.string({ maxLength: 120 }) }).map((frame) => JSON.stringify(frame)),
      fc.uint8Array({ maxLength: 100 }).map((bytes) => Buffer.from(bytes)),
      fc.constantFrom("x".repeat(20_000), JSON.stringify({ type: "ping", pad: "y".repeat(20_000) }), "{\"type\":\"ping\",\"id\":\"a\u0000b\"}"),
    );
    await fc.assert(
      fc.asyncProperty(garbage, async (payload) => {
        await check(payload, `garbage ${payload.toString().slice(0, 200)}`);
      }),
      { numRuns: RUNS },
    );
  });

  it("the edge and the API are still ready afterwards, and a normal command works", async () => {
    expect((await fetch(`${edge.httpUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${cluster.api.url}/readyz`)).status).toBe(200);
    const ws = await openSocket();
    const before = inbox.length;
    ws.send(JSON.stringify({ type: "send_message", id: "final", conversation_id: conversationId, client_msg_id: randomUUID(), content: "still here" }));
    await waitUntil(() => inbox.slice(before).some((frame) => frame.id === "final"), "the final ack");
    expect(inbox.slice(before).find((frame) => frame.id === "final")).toMatchObject({ type: "ack" });
  });
});
