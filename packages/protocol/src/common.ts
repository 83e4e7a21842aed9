import { z } from "zod";

/** PostgreSQL text cannot hold U+0000: every string that may reach storage refuses it at the boundary. */
export const text = () => z.string().refine((value) => !value.includes("\u0000"), "must not contain NUL characters");
/** The largest seq, cursor or count PostgreSQL's integer columns hold (2^31 − 1). */
export const MAX_INT32 = 2_147_483_647;
/** A seq bound from a client: non-negative and within storage. */
export const seqInput = z.number().int().min(0).max(MAX_INT32);

/** User ids are opaque strings (an external identity provider's `sub` may be any string). */
export const userId = text().min(1).max(200);
/** Conversation and message ids are UUIDs (UUIDv7 from the API). */
export const uuid = z.uuid();
export const isoTime = z.string();
export const seq = z.number().int().nonnegative();

export const ROLES_EXAMPLE = ["student", "parent", "teacher", "admin", "client", "salon", "patient", "doctor", "service", "user"] as const;
export const role = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "must be a lowercase word");

export const presenceStatus = z.enum(["online", "away", "busy", "offline"]);
export type PresenceStatus = z.infer<typeof presenceStatus>;

/** A list response: {"items": [...], "next_cursor": string|null}. */
export function page<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() });
}
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export const MAX_ATTACHMENTS = 5;
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

export const attachment = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).max(2048),
  name: text().min(1).max(255),
  mime_type: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, "must be a MIME type like image/png"),
  size: z.number().int().nonnegative().max(MAX_ATTACHMENT_BYTES, "must be at most 10 MB"),
});
export type Attachment = z.infer<typeof attachment>;

export const messageType = z.enum(["text", "image", "file", "system"]);
export type MessageType = z.infer<typeof messageType>;

export const message = z.object({
  id: uuid,
  conversation_id: uuid,
  seq: z.number().int().positive(),
  sender_id: userId.nullable(),
  type: messageType,
  content: z.string().nullable(),
  reply_to: uuid.nullable(),
  attachments: z.array(attachment),
  created_at: isoTime,
  edited_at: isoTime.nullable(),
  deleted: z.boolean(),
});
export type Message = z.infer<typeof message>;

export const conversationType = z.enum(["direct", "group", "support"]);
export const participantRole = z.enum(["member", "admin", "owner"]);

export const participant = z.object({
  user_id: userId,
  role: participantRole,
  joined_at: isoTime,
  display_name: z.string().optional(),
  user_role: role.optional(),
  /** Highest seq this participant acknowledged as received (`mark_delivered`); never moves backwards. */
  last_read_seq: z.number().int().nonnegative().optional(),
  delivered_seq: z.number().int().nonnegative().optional(),
});
export type Participant = z.infer<typeof participant>;

export const conversation = z.object({
  id: uuid,
  type: conversationType,
  title: z.string().nullable(),
  created_by: userId.nullable(),
  created_at: isoTime,
  last_activity_at: isoTime,
  last_seq: z.number().int().nonnegative(),
  last_message: message.nullable(),
  unread_count: z.number().int().nonnegative(),
  muted: z.boolean(),
  archived: z.boolean(),
  /** Set when the worker archived the conversation for being idle (for every participant). */
  archived_at: isoTime.nullable(),
  /** A direct conversation whose two people the policy no longer lets talk (or one blocked the other): read-only. */
  closed: z.boolean(),
  participants: z.array(participant).optional(),
});
export type Conversation = z.infer<typeof conversation>;

export const publicUser = z.object({
  id: userId,
  username: z.string(),
  display_name: z.string(),
  role,
});
export type PublicUser = z.infer<typeof publicUser>;

export const me = publicUser.extend({
  email: z.string().nullable(),
  email_notifications: z.boolean(),
  /** Notifications go only to a confirmed address (EMAIL_CONFIRMATION). */
  email_confirmed: z.boolean(),
  created_at: isoTime,
});
export type Me = z.infer<typeof me>;

export const presence = z.object({
  user_id: userId,
  status: presenceStatus,
  last_seen: isoTime.nullable(),
});
export type Presence = z.infer<typeof presence>;
