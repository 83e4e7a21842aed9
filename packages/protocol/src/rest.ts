import { z } from "zod";
import { attachment, MAX_INT32, seqInput, text, MAX_ATTACHMENTS, messageType, page, presence, publicUser, me, message, conversation, role, userId, uuid, participant } from "./common";

// ---- accounts
export const registerBody = z.strictObject({
  username: z
    .string()
    .min(3)
    .max(32)
    .regex(/^[a-zA-Z0-9_.-]+$/, "may contain letters, digits, '_', '.' and '-'"),
  password: z.string().min(8, "must be at least 8 characters").max(256),
  display_name: text().trim().min(1).max(100),
  role,
  email: z.email().max(254).optional(),
});
export type RegisterBody = z.infer<typeof registerBody>;

export const loginBody = z.strictObject({
  username: text().min(1).max(64),
  password: text().min(1).max(256),
});
export type LoginBody = z.infer<typeof loginBody>;

export const authResponse = z.object({ user: me, access_token: z.string() });
export type AuthResponse = z.infer<typeof authResponse>;

export const updateMeBody = z.strictObject({
  display_name: text().trim().min(1).max(100).optional(),
  email: z.email().max(254).nullable().optional(),
  email_notifications: z.boolean().optional(),
});
export type UpdateMeBody = z.infer<typeof updateMeBody>;

const limit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

export const userSearchQuery = z.object({
  q: text().max(100).default(""),
  limit: limit(100, 20),
  cursor: text().max(500).optional(),
});
export const userPage = page(publicUser);

// ---- conversations
export const createConversationBody = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("direct"),
    /** One id (the other person); a service token names both people. */
    participant_ids: z.array(userId).min(1).max(2),
  }),
  z.strictObject({
    type: z.literal("group"),
    title: text().trim().min(1).max(200),
    participant_ids: z.array(userId).max(1000).default([]),
  }),
  z.strictObject({
    type: z.literal("support"),
    title: text().trim().min(1).max(200).optional(),
    /** Staff to include; when empty, the policy's support staff are added. A service token names the customer first. */
    participant_ids: z.array(userId).max(100).default([]),
  }),
]);
export type CreateConversationBody = z.infer<typeof createConversationBody>;

const booleanQuery = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

export const conversationListQuery = z.object({
  limit: limit(100, 20),
  cursor: text().max(500).optional(),
  archived: booleanQuery.default(false),
});
export const conversationPage = page(conversation);

export const conversationSettingsBody = z
  .strictObject({ muted: z.boolean().optional(), archived: z.boolean().optional() })
  .refine((b) => b.muted !== undefined || b.archived !== undefined, { message: "set muted or archived", path: ["muted"] });
export type ConversationSettingsBody = z.infer<typeof conversationSettingsBody>;

export const addParticipantsBody = z.strictObject({
  user_ids: z.array(userId).min(1).max(1000),
  role: z.enum(["member", "admin"]).default("member"),
});
export type AddParticipantsBody = z.infer<typeof addParticipantsBody>;
/** The list shape of the contract; never paged, so next_cursor is always null. */
export const participantList = page(participant);

// ---- messages
export const clientMsgId = text().min(1).max(100);
/** Hard cap against abuse; the configured limit (MAX_MESSAGE_LENGTH) answers 413 message_too_large. */
export const content = text().max(1_000_000);

export const sendMessageBody = z.strictObject({
  client_msg_id: clientMsgId,
  content,
  type: messageType.default("text"),
  reply_to: uuid.nullable().optional(),
  attachments: z.array(attachment).max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} attachments`).default([]),
});
export type SendMessageBody = z.infer<typeof sendMessageBody>;

export const historyQuery = z
  .object({
    before_seq: z.coerce.number().int().min(1).max(MAX_INT32).optional(),
    after_seq: z.coerce.number().int().min(0).max(MAX_INT32).optional(),
    /** A page's next_cursor passed back: continues in that page's direction (as after_seq when paging forward). */
    cursor: text().max(500).optional(),
    limit: limit(200, 50),
  })
  .refine((q) => q.before_seq === undefined || q.after_seq === undefined, {
    message: "use before_seq or after_seq, not both",
    path: ["before_seq"],
  });
export type HistoryQuery = z.infer<typeof historyQuery>;
export const messagePage = page(message);

export const editMessageBody = z.strictObject({ content });
export type EditMessageBody = z.infer<typeof editMessageBody>;

export const readBody = z.strictObject({ up_to_seq: seqInput });
export const deliveredBody = z.strictObject({ up_to_seq: seqInput });
export const deliveredResponse = z.object({ conversation_id: uuid, delivered_seq: z.number().int().nonnegative() });
export type DeliveredResponse = z.infer<typeof deliveredResponse>;
export const readResponse = z.object({ unread_count: z.number().int().nonnegative(), last_read_seq: z.number().int().nonnegative() });

export const unreadSummary = z.object({
  total: z.number().int().nonnegative(),
  conversations: z.array(z.object({ conversation_id: uuid, unread_count: z.number().int().nonnegative(), muted: z.boolean() })),
});
export type UnreadSummary = z.infer<typeof unreadSummary>;

// ---- search
export const searchQuery = z.object({
  q: text().trim().min(1).max(200),
  conversation_id: uuid.optional(),
  limit: limit(100, 20),
  cursor: text().max(500).optional(),
});
/** A hit is the message (its fields at the top level) plus `message` repeating it, the HTML snippet and the rank. */
export const searchHit = message.extend({ message, snippet: z.string(), rank: z.number() });
export const searchPage = page(searchHit);

// ---- relationships
export const relationshipBody = z.strictObject({
  user_id: userId,
  other_user_id: userId,
  kind: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "must be a lowercase word"),
});
export type RelationshipBody = z.infer<typeof relationshipBody>;
export const relationship = z.object({ user_id: userId, other_user_id: userId, kind: z.string(), created_at: z.string() });
export type Relationship = z.infer<typeof relationship>;

// ---- presence and stats
export const presenceQuery = z.object({
  user_ids: z
    .string()
    .max(20_000)
    .transform((s) => s.split(",").map((v) => v.trim()).filter(Boolean))
    .pipe(z.array(userId).max(500))
    .optional(),
});
/** The list shape of the contract; never paged, so next_cursor is always null. */
export const presenceList = page(presence);

export const stats = z.object({
  connections: z.number().int().nonnegative(),
  users: z.number().int().nonnegative(),
  users_with_multiple_connections: z.number().int().nonnegative(),
  nodes: z.array(z.object({ node: z.string(), connections: z.number().int().nonnegative(), users: z.number().int().nonnegative() })),
});
export type Stats = z.infer<typeof stats>;

// ---- errors
export const errorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    retry_after_ms: z.number().int().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBody>;
