import { describe, expect, it } from "vitest";
import { conversation, message, toWireConversation, toWireMessage, unreadCountEvents, type StoredConversation, type StoredMessage } from "../src";

const stored: StoredMessage = {
  id: "0192f5a4-7c1e-7cc2-9a55-000000000001",
  conversationId: "0192f5a4-7c1e-7cc2-9a55-1f1a2b3c4d5e",
  seq: 3,
  senderId: "alice",
  type: "text",
  content: "hello",
  replyTo: null,
  attachments: [{ url: "https://files.example/a.png", name: "a.png", mime_type: "image/png", size: 10 }],
  createdAt: new Date("2026-11-30T12:00:00.000Z"),
  editedAt: null,
  deletedAt: null,
};

const room: StoredConversation = {
  id: "0192f5a4-7c1e-7cc2-9a55-1f1a2b3c4d5e",
  type: "group",
  title: "Room",
  createdBy: "alice",
  createdAt: new Date("2026-11-01T00:00:00.000Z"),
  lastActivityAt: new Date("2026-11-30T12:00:00.000Z"),
  lastSeq: 3,
  archivedAt: null,
  closedAt: null,
};

describe("the wire mappers", () => {
  it("map a stored message to a valid wire message, and a deleted one to a tombstone that keeps its seq", () => {
    expect(message.parse(toWireMessage(stored))).toMatchObject({ seq: 3, content: "hello", deleted: false, attachments: [{ name: "a.png" }] });
    const tombstone = toWireMessage({ ...stored, deletedAt: new Date("2026-11-30T13:00:00.000Z") });
    expect(message.parse(tombstone)).toMatchObject({ seq: 3, content: null, attachments: [], deleted: true });
  });

  it("map a conversation per viewer: the idle archive shows for everyone, the viewer's own flag only for them", () => {
    const viewer = { unread: 2, muted: true, archived: false };
    expect(conversation.parse(toWireConversation(room, viewer, stored))).toMatchObject({ unread_count: 2, muted: true, archived: false, archived_at: null, closed: false, last_message: { seq: 3 } });
    const idle = toWireConversation({ ...room, archivedAt: new Date("2026-11-30T14:00:00.000Z"), closedAt: new Date("2026-11-30T15:00:00.000Z") }, viewer, null);
    expect(idle).toMatchObject({ archived: true, archived_at: "2026-11-30T14:00:00.000Z", closed: true, last_message: null });
    expect(toWireConversation(room, { ...viewer, archived: true }, null).archived).toBe(true);
  });

  it("groups unread_count events by conversation and equal numbers", () => {
    const c = room.id;
    const events = unreadCountEvents([
      { conversationId: c, userId: "a", unread: 1, total: 4 },
      { conversationId: c, userId: "b", unread: 1, total: 4 },
      { conversationId: c, userId: "d", unread: 2, total: 4 },
    ]);
    expect(events).toEqual([
      { recipients: ["a", "b"], event: { type: "unread_count", conversation_id: c, unread_count: 1, total: 4 } },
      { recipients: ["d"], event: { type: "unread_count", conversation_id: c, unread_count: 2, total: 4 } },
    ]);
  });
});
