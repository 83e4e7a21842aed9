import { z } from "zod";
import { conversation, message, presenceStatus, userId, uuid } from "./common";

/**
 * Events that a committed change produces for each affected user (the `type` plus the fields that sit at the top
 * level of the WebSocket frame). The stream position `pos` is added when the event is delivered.
 */
export const newMessageEvent = z.object({ type: z.literal("new_message"), conversation_id: uuid, message });
export const messageUpdatedEvent = z.object({ type: z.literal("message_updated"), conversation_id: uuid, message });
export const messageDeletedEvent = z.object({ type: z.literal("message_deleted"), conversation_id: uuid, message_id: uuid, seq: z.number().int().positive() });
export const messagesReadEvent = z.object({ type: z.literal("messages_read"), conversation_id: uuid, user_id: userId, up_to_seq: z.number().int().nonnegative() });
export const messagesDeliveredEvent = z.object({
  type: z.literal("messages_delivered"),
  conversation_id: uuid,
  user_id: userId,
  up_to_seq: z.number().int().nonnegative(),
});
export const unreadCountEvent = z.object({
  type: z.literal("unread_count"),
  conversation_id: uuid,
  unread_count: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
});
export const conversationUpdatedEvent = z.object({ type: z.literal("conversation_updated"), conversation });

export const conversationEvent = z.discriminatedUnion("type", [
  newMessageEvent,
  messageUpdatedEvent,
  messageDeletedEvent,
  messagesReadEvent,
  messagesDeliveredEvent,
  unreadCountEvent,
  conversationUpdatedEvent,
]);
export type ConversationEvent = z.infer<typeof conversationEvent>;
export type ConversationEventType = ConversationEvent["type"];

/** An event as delivered: with its stream position. */
export type DeliveredEvent = ConversationEvent & { pos: string };

/** Ephemeral signals: never stored, never replayed. */
export const typingEvent = z.object({ type: z.literal("typing"), conversation_id: uuid, user_id: userId, is_typing: z.boolean() });
export type TypingEvent = z.infer<typeof typingEvent>;

export const presenceEvent = z.object({
  type: z.literal("presence"),
  user_id: userId,
  status: presenceStatus,
  last_seen: z.string().nullable(),
});
export type PresenceEvent = z.infer<typeof presenceEvent>;
