import { z } from "zod";
import { message, presence, presenceStatus, userId, uuid } from "./common";
import { ERRORS, type ErrorCode } from "./errors";
import {
  conversationUpdatedEvent,
  messageDeletedEvent,
  messagesDeliveredEvent,
  messagesReadEvent,
  messageUpdatedEvent,
  newMessageEvent,
  presenceEvent,
  typingEvent,
  unreadCountEvent,
} from "./events";
import type { ClientFrameType } from "./frames";
import { readResponse } from "./rest";

/** A stream position in a user's stream (`<ms>-<n>`, a Redis stream id). */
export const streamPos = z.string().regex(/^\d+-\d+$/, "must be a stream position");

const errorCodes = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];
export const errorCode = z.enum(errorCodes);

// ---- server -> client (every frame an edge may write; the edge's `send` only takes these)
export const connectedFrame = z.object({
  type: z.literal("connected"),
  user_id: userId,
  connection_id: z.string(),
  node: z.string(),
  heartbeat_ms: z.number().int().positive(),
  /** The user's current stream position: `resume {since: pos}` after a reconnect misses nothing from here on. */
  pos: streamPos,
});
export const pongFrame = z.object({ type: z.literal("pong"), id: z.string().optional() });
export const ackFrame = z.object({ type: z.literal("ack"), id: z.string().optional(), data: z.record(z.string(), z.unknown()) });
export const errorFrame = z.object({
  type: z.literal("error"),
  id: z.string().optional(),
  code: errorCode,
  message: z.string(),
  field: z.string().optional(),
  retry_after_ms: z.number().int().optional(),
});
export const reconnectFrame = z.object({ type: z.literal("reconnect"), reason: z.string(), after_ms: z.number().int().nonnegative() });

/** Conversation events as frames: `pos` is set for events of the user's stream, absent for a `subscribe` replay. */
const withPos = { pos: streamPos.optional() };
export const conversationEventFrames = [
  newMessageEvent.extend(withPos),
  messageUpdatedEvent.extend(withPos),
  messageDeletedEvent.extend(withPos),
  messagesReadEvent.extend(withPos),
  messagesDeliveredEvent.extend(withPos),
  unreadCountEvent.extend(withPos),
  conversationUpdatedEvent.extend(withPos),
] as const;

export const serverFrame = z.discriminatedUnion("type", [
  connectedFrame,
  pongFrame,
  ackFrame,
  errorFrame,
  reconnectFrame,
  typingEvent,
  presenceEvent,
  ...conversationEventFrames,
]);
export type ServerFrame = z.infer<typeof serverFrame>;
export type ServerFrameType = ServerFrame["type"];
export type ServerFrameOf<K extends ServerFrameType> = Extract<ServerFrame, { type: K }>;
export type ConnectedFrame = z.infer<typeof connectedFrame>;
export type AckFrame = z.infer<typeof ackFrame>;
export type ErrorFrame = z.infer<typeof errorFrame>;
export type ReconnectFrame = z.infer<typeof reconnectFrame>;

/** The `data` of each command's `ack` (ping is answered with `pong`, not an ack). */
export const ackDataSchemas = {
  auth: z.object({ user_id: userId, expires_at: z.string() }),
  send_message: message,
  edit_message: message,
  delete_message: z.object({}),
  mark_read: readResponse,
  mark_delivered: z.object({ conversation_id: uuid, delivered_seq: z.number().int().nonnegative() }),
  typing_start: z.object({ conversation_id: uuid, is_typing: z.boolean() }),
  typing_stop: z.object({ conversation_id: uuid, is_typing: z.boolean() }),
  subscribe: z.object({ conversation_id: uuid }),
  unsubscribe: z.object({ conversation_id: uuid }),
  set_status: z.object({ status: presenceStatus }),
  watch_presence: z.object({ items: z.array(presence) }),
  resume: z.object({ since: streamPos }),
} as const satisfies Record<Exclude<ClientFrameType, "ping">, z.ZodType>;

export type AckedCommandType = keyof typeof ackDataSchemas;
export type AckDataOf<K extends AckedCommandType> = z.infer<(typeof ackDataSchemas)[K]>;

export type ServerFrameParseResult = { ok: true; frame: ServerFrame } | { ok: false; message: string };

/** Parses one text frame from an edge (the SDK's boundary). */
export function parseServerFrame(text: string): ServerFrameParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, message: "frame is not valid JSON" };
  }
  const result = serverFrame.safeParse(raw);
  if (result.success) return { ok: true, frame: result.data };
  const issue = result.error.issues[0];
  const field = issue ? issue.path.map(String).join(".") : "";
  return { ok: false, message: `${field || "frame"}: ${issue?.message ?? "invalid"}` };
}
