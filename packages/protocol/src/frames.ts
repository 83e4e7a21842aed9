import { z } from "zod";
import { attachment, MAX_ATTACHMENTS, presenceStatus, seqInput, text, userId, uuid } from "./common";
import { clientMsgId, content } from "./rest";

const commandId = text().max(100).optional();

/** Every frame a client may send, by type. */
export const clientFrameSchemas = {
  auth: z.strictObject({ type: z.literal("auth"), id: commandId, token: text().min(1).max(8192) }),
  ping: z.strictObject({ type: z.literal("ping"), id: commandId }),
  send_message: z.strictObject({
    type: z.literal("send_message"),
    id: commandId,
    conversation_id: uuid,
    client_msg_id: clientMsgId,
    content,
    message_type: z.enum(["text", "image", "file"]).optional(),
    reply_to: uuid.nullable().optional(),
    attachments: z.array(attachment).max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} attachments`).optional(),
  }),
  edit_message: z.strictObject({ type: z.literal("edit_message"), id: commandId, message_id: uuid, content }),
  delete_message: z.strictObject({ type: z.literal("delete_message"), id: commandId, message_id: uuid }),
  mark_read: z.strictObject({ type: z.literal("mark_read"), id: commandId, conversation_id: uuid, up_to_seq: seqInput }),
  mark_delivered: z.strictObject({ type: z.literal("mark_delivered"), id: commandId, conversation_id: uuid, up_to_seq: seqInput }),
  typing_start: z.strictObject({ type: z.literal("typing_start"), id: commandId, conversation_id: uuid }),
  typing_stop: z.strictObject({ type: z.literal("typing_stop"), id: commandId, conversation_id: uuid }),
  subscribe: z.strictObject({
    type: z.literal("subscribe"),
    id: commandId,
    conversation_id: uuid,
    since_seq: seqInput.optional(),
  }),
  unsubscribe: z.strictObject({ type: z.literal("unsubscribe"), id: commandId, conversation_id: uuid }),
  set_status: z.strictObject({ type: z.literal("set_status"), id: commandId, status: presenceStatus.exclude(["offline"]) }),
  watch_presence: z.strictObject({ type: z.literal("watch_presence"), id: commandId, user_ids: z.array(userId).max(500) }),
  resume: z.strictObject({ type: z.literal("resume"), id: commandId, since: z.string().regex(/^\d{1,19}-\d{1,19}$/, "must be a stream position") }),
} as const;

export type ClientFrameType = keyof typeof clientFrameSchemas;
export type ClientFrame = { [K in ClientFrameType]: z.infer<(typeof clientFrameSchemas)[K]> }[ClientFrameType];
export type ClientFrameOf<K extends ClientFrameType> = z.infer<(typeof clientFrameSchemas)[K]>;

export type FrameParseResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: "invalid_frame" | "unknown_type"; message: string; field?: string; id?: string };

/** Parses one text frame from a client: JSON, an object with a known `type`, and that type's fields. */
export function parseClientFrame(text: string): FrameParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: "invalid_frame", message: "frame is not valid JSON" };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, code: "invalid_frame", message: "frame must be a JSON object" };
  }
  const record = raw as Record<string, unknown>;
  const id = typeof record.id === "string" ? record.id.slice(0, 100) : undefined;
  const withId = id === undefined ? {} : { id };
  const type = record.type;
  if (typeof type !== "string") return { ok: false, code: "invalid_frame", message: "type: must be a string", field: "type", ...withId };
  if (!Object.hasOwn(clientFrameSchemas, type)) {
    return { ok: false, code: "unknown_type", message: `type: unknown frame type`, field: "type", ...withId };
  }
  const schema = clientFrameSchemas[type as ClientFrameType];
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, frame: result.data };
  const issue = result.error.issues[0];
  const field = issue ? issue.path.map(String).join(".") || undefined : undefined;
  const reason = issue?.code === "unrecognized_keys" ? `unknown field ${issue.keys.join(", ")}` : (issue?.message ?? "invalid");
  return {
    ok: false,
    code: "invalid_frame",
    message: field ? `${field}: ${reason}` : reason,
    ...(field === undefined ? {} : { field }),
    ...withId,
  };
}
