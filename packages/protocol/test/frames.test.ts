import { describe, expect, it } from "vitest";
import { ackDataSchemas, clientFrameSchemas, parseClientFrame, parseServerFrame, serverFrame, type ClientFrameType } from "../src";

const conversationId = "0192f5a4-7c1e-7cc2-9a55-1f1a2b3c4d5e";
const messageId = "0192f5a4-7c1e-7cc2-9a55-1f1a2b3c4d5f";

const validFrames: Record<ClientFrameType, Record<string, unknown>> = {
  auth: { type: "auth", token: "eyJhbGciOi.x.y" },
  ping: { type: "ping", id: "p1" },
  send_message: { type: "send_message", id: "c1", conversation_id: conversationId, client_msg_id: "m-1", content: "hello" },
  edit_message: { type: "edit_message", message_id: messageId, content: "edited" },
  delete_message: { type: "delete_message", message_id: messageId },
  mark_read: { type: "mark_read", conversation_id: conversationId, up_to_seq: 4 },
  mark_delivered: { type: "mark_delivered", id: "d1", conversation_id: conversationId, up_to_seq: 4 },
  typing_start: { type: "typing_start", conversation_id: conversationId },
  typing_stop: { type: "typing_stop", conversation_id: conversationId },
  subscribe: { type: "subscribe", conversation_id: conversationId, since_seq: 10 },
  unsubscribe: { type: "unsubscribe", conversation_id: conversationId },
  set_status: { type: "set_status", status: "away" },
  watch_presence: { type: "watch_presence", user_ids: ["u1", "u2"] },
  resume: { type: "resume", since: "1700000000000-0" },
};

describe("client frames", () => {
  it("covers every client frame type of the protocol", () => {
    expect(Object.keys(validFrames).sort()).toEqual(Object.keys(clientFrameSchemas).sort());
  });

  it.each(Object.entries(validFrames))("a valid %s frame parses", (type, frame) => {
    const result = parseClientFrame(JSON.stringify(frame));
    expect(result).toMatchObject({ ok: true, frame: { type } });
  });

  it("rejects text that is not JSON", () => {
    expect(parseClientFrame("{nope")).toMatchObject({ ok: false, code: "invalid_frame" });
  });

  it("rejects a JSON value that is not an object", () => {
    expect(parseClientFrame("[1,2]")).toMatchObject({ ok: false, code: "invalid_frame" });
    expect(parseClientFrame("null")).toMatchObject({ ok: false, code: "invalid_frame" });
  });

  it("answers unknown_type for a type it does not know, echoing the id", () => {
    expect(parseClientFrame(JSON.stringify({ type: "launch_rockets", id: "x9" }))).toEqual({
      ok: false,
      code: "unknown_type",
      message: "type: unknown frame type",
      field: "type",
      id: "x9",
    });
  });

  it("names the missing field", () => {
    const result = parseClientFrame(JSON.stringify({ type: "send_message", id: "c2", conversation_id: conversationId, content: "hi" }));
    expect(result).toMatchObject({ ok: false, code: "invalid_frame", field: "client_msg_id", id: "c2" });
  });

  it("names a field of the wrong type", () => {
    const result = parseClientFrame(JSON.stringify({ type: "mark_read", conversation_id: conversationId, up_to_seq: "4" }));
    expect(result).toMatchObject({ ok: false, code: "invalid_frame", field: "up_to_seq" });
  });

  it("names a malformed id", () => {
    const result = parseClientFrame(JSON.stringify({ type: "subscribe", conversation_id: "not-a-uuid" }));
    expect(result).toMatchObject({ ok: false, field: "conversation_id" });
  });

  it("rejects unknown fields so typos are caught", () => {
    const result = parseClientFrame(JSON.stringify({ type: "ping", colour: "red" }));
    expect(result).toMatchObject({ ok: false, code: "invalid_frame" });
    if (!result.ok) expect(result.message).toContain("colour");
  });

  it("rejects more than five attachments, naming the field", () => {
    const attachment = { url: "https://cdn.example/a.png", name: "a.png", mime_type: "image/png", size: 10 };
    const result = parseClientFrame(
      JSON.stringify({ ...validFrames.send_message, attachments: Array.from({ length: 6 }, () => attachment) }),
    );
    expect(result).toMatchObject({ ok: false, field: "attachments" });
  });

  it("refuses offline as a status a client can set", () => {
    expect(parseClientFrame(JSON.stringify({ type: "set_status", status: "offline" }))).toMatchObject({ ok: false, field: "status" });
  });
});

describe("server frames", () => {
  it.each([
    { type: "connected", user_id: "u1", connection_id: "c1", node: "edge-1", heartbeat_ms: 30000, pos: "0-0" },
    { type: "pong", id: "p1" },
    { type: "ack", id: "c1", data: { id: messageId } },
    { type: "error", id: "c1", code: "rate_limited", message: "slow down", retry_after_ms: 1000 },
    { type: "reconnect", reason: "draining", after_ms: 1500 },
    { type: "typing", conversation_id: conversationId, user_id: "u1", is_typing: true },
    { type: "presence", user_id: "u1", status: "online", last_seen: null },
    { type: "message_deleted", conversation_id: conversationId, message_id: messageId, seq: 3, pos: "1-0" },
    { type: "messages_read", conversation_id: conversationId, user_id: "u2", up_to_seq: 3, pos: "1-1" },
    { type: "unread_count", conversation_id: conversationId, unread_count: 2, total: 7, pos: "1-2" },
    { type: "messages_delivered", conversation_id: conversationId, user_id: "u2", up_to_seq: 3, pos: "1-3" },
  ])("a $type frame matches the schema", (frame) => {
    expect(serverFrame.safeParse(frame).success).toBe(true);
    expect(parseServerFrame(JSON.stringify(frame))).toMatchObject({ ok: true });
  });

  it.each([
    [{ type: "connected", user_id: "u1", connection_id: "c1", node: "edge-1", heartbeat_ms: 30000 }, "pos"],
    [{ type: "error", code: "no_such_code", message: "?" }, "code"],
    [{ type: "surprise" }, "type"],
  ])("%j is refused, naming %s", (frame, field) => {
    const parsed = parseServerFrame(JSON.stringify(frame));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message.startsWith(field)).toBe(true);
  });

  it("every acked command has an ack data schema", () => {
    const commands = Object.keys(clientFrameSchemas).filter((type) => type !== "ping");
    expect(Object.keys(ackDataSchemas).sort()).toEqual(commands.sort());
  });
});
