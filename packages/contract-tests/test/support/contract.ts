import { z } from "zod";

/**
 * The shapes of /work/shared/brief/PROTOCOL.md ("Wire contract v1"), read as an outside client author would:
 * only what that page states. Objects are open: the server may add fields, never drop these.
 */
export const isoTime = z.iso.datetime();
const id = z.string().min(1);
const count = z.number().int().nonnegative();

export const errorBody = z.object({
  error: z.object({ code: z.string().regex(/^[a-z][a-z0-9_]*$/, "snake_case"), message: z.string() }),
});

export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next_cursor: z.string().nullable() });

export const user = z.object({ id, display_name: z.string() });
export const authAnswer = z.object({ user, access_token: z.string().min(1) });

export const attachment = z.object({ url: z.string(), name: z.string(), mime_type: z.string(), size: z.number().int().nonnegative() });

export const message = z.object({
  id,
  conversation_id: id,
  seq: z.number().int().positive(),
  sender_id: id.nullable(),
  type: z.string(),
  content: z.string().nullable(),
  reply_to: id.nullable(),
  attachments: z.array(attachment),
  created_at: isoTime,
  edited_at: isoTime.nullable(),
  deleted: z.boolean(),
});
export type Message = z.infer<typeof message>;

export const participant = z.object({ user_id: id, role: z.string(), joined_at: isoTime });

export const conversation = z.object({
  id,
  last_message: message.nullable(),
  last_seq: count,
  unread_count: count,
  muted: z.boolean(),
  archived: z.boolean(),
});
export const conversationWithParticipants = conversation.extend({ participants: z.array(participant) });
export type Conversation = z.infer<typeof conversation>;

export const readAnswer = z.object({ unread_count: count });
export const unreadSummary = z.object({ total: count, conversations: z.array(z.object({ conversation_id: id, unread_count: count })) });

export const presence = z.object({ user_id: id, status: z.string(), last_seen: isoTime.nullable() });

export const stats = z.object({
  connections: count,
  users: count,
  users_with_multiple_connections: count,
  nodes: z.array(z.object({ node: z.string(), connections: count, users: count })),
});

// ---- WebSocket frames
export const connectedFrame = z.object({
  type: z.literal("connected"),
  user_id: id,
  connection_id: z.string().min(1),
  node: z.string().min(1),
  heartbeat_ms: z.number().int().positive(),
});
export const ackFrame = z.object({ type: z.literal("ack"), id: z.string(), data: z.record(z.string(), z.unknown()) });
export const errorFrame = z.object({ type: z.literal("error"), code: z.string(), message: z.string() });

const pos = z.string().min(1);
export const newMessageFrame = z.object({ type: z.literal("new_message"), conversation_id: id, message, pos });
export const messageUpdatedFrame = z.object({ type: z.literal("message_updated"), conversation_id: id, message, pos });
export const messageDeletedFrame = z.object({ type: z.literal("message_deleted"), conversation_id: id, message_id: id, seq: z.number().int().positive(), pos });
export const messagesReadFrame = z.object({ type: z.literal("messages_read"), conversation_id: id, user_id: id, up_to_seq: count, pos });
export const unreadCountFrame = z.object({ type: z.literal("unread_count"), conversation_id: id, unread_count: count, total: count, pos });
export const messagesDeliveredFrame = z.object({ type: z.literal("messages_delivered"), conversation_id: id, user_id: id, up_to_seq: count, pos });
export const deliveredAck = z.object({ conversation_id: id, delivered_seq: count });
/** Additions: each participant of GET /v1/conversations/:id carries its read and delivered marks. */
export const participantWithMarks = participant.extend({ last_read_seq: count, delivered_seq: count });
export const conversationUpdatedFrame = z.object({ type: z.literal("conversation_updated"), conversation, pos });
export const typingFrame = z.object({ type: z.literal("typing"), conversation_id: id, user_id: id, is_typing: z.boolean() });
export const presenceFrame = z.object({ type: z.literal("presence"), user_id: id, status: z.string(), last_seen: isoTime.nullable() });
