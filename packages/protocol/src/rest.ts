import { z } from "zod";
import { attachment, MAX_INT32, seqInput, text, MAX_ATTACHMENTS, messageType, page, presence, publicUser, me, message, conversation, role, userId, uuid, participant, isoTime } from "./common";

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
  /** Include closed conversations; unset: yes, unless the policy says `hide_closed`. */
  closed: booleanQuery.optional(),
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

// ---- trust and safety
/** An entry of GET /v1/blocks. */
export const block = z.object({ user_id: userId, created_at: isoTime });
export type Block = z.infer<typeof block>;
export const blockList = page(block);
export const blockListQuery = z.object({ limit: limit(500, 100), cursor: z.string().max(500).optional() });

export const reportBody = z
  .strictObject({
    message_id: uuid.optional(),
    user_id: userId.optional(),
    reason: z.string().trim().min(1).max(2000),
  })
  .refine((body) => body.message_id !== undefined || body.user_id !== undefined, { message: "name a message_id or a user_id", path: ["message_id"] });
export type ReportBody = z.infer<typeof reportBody>;

export const reportStatus = z.enum(["open", "resolved"]);
export const report = z.object({
  id: uuid,
  reporter_id: userId,
  message_id: uuid.nullable(),
  conversation_id: uuid.nullable(),
  user_id: userId.nullable(),
  reason: z.string(),
  /** The message as it was when reported (edits and deletions later do not change it). */
  message_snapshot: message.nullable(),
  status: reportStatus,
  created_at: isoTime,
  resolved_at: isoTime.nullable(),
  resolved_by: userId.nullable(),
  resolution: z.string().nullable(),
});
export type Report = z.infer<typeof report>;
export const reportList = page(report);
export const reportListQuery = z.object({
  status: reportStatus.optional(),
  user_id: userId.optional(),
  conversation_id: uuid.optional(),
  reporter_id: userId.optional(),
  limit: limit(100, 50),
  cursor: z.string().max(500).optional(),
});
export type ReportListQuery = z.infer<typeof reportListQuery>;

/** A moderator action taken together with resolving a report: one call each. */
export const moderatorAction = z.enum(["none", "delete_message", "remove_member", "suspend_user"]);
export const resolveReportBody = z.strictObject({
  action: moderatorAction.default("none"),
  resolution: z.string().trim().max(2000).optional(),
});
export type ResolveReportBody = z.infer<typeof resolveReportBody>;

// ---- admin
export const provisionUserBody = z.strictObject({
  username: registerBody.shape.username,
  display_name: registerBody.shape.display_name,
  role,
  email: z.email().max(254).optional(),
  /** Without a password the user logs in through the identity provider only. */
  password: registerBody.shape.password.optional(),
});
export type ProvisionUserBody = z.infer<typeof provisionUserBody>;
export const changeRoleBody = z.strictObject({ role });
export type ChangeRoleBody = z.infer<typeof changeRoleBody>;
export const suspendBody = z.strictObject({ reason: z.string().trim().max(2000).optional() });

export const auditEntry = z.object({
  id: uuid,
  at: isoTime,
  actor_id: userId,
  actor_role: role,
  action: z.string(),
  target_type: z.string().nullable(),
  target_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});
export type AuditEntry = z.infer<typeof auditEntry>;
export const auditList = page(auditEntry);
export const auditQuery = z.object({
  actor_id: userId.optional(),
  target_id: z.string().max(200).optional(),
  action: z.string().max(200).optional(),
  limit: limit(500, 100),
  cursor: z.string().max(500).optional(),
});
export type AuditQuery = z.infer<typeof auditQuery>;

// ---- e-mail confirmation
export const confirmEmailBody = z.strictObject({ token: z.string().min(16).max(200) });
export const confirmEmailResponse = z.object({ email_confirmed: z.literal(true) });
