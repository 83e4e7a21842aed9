import { conversationEvent, parseJsonWith, type ConversationEvent } from "@parley/protocol";
import { z } from "zod";

/** What travels on a user's channel, fully parsed: the event, its position in that user's stream, and its commit time (ms). */
export const eventEnvelope = z.object({ pos: z.string().regex(/^\d+-\d+$/), ts: z.number().optional(), event: conversationEvent });
export type EventEnvelope = z.infer<typeof eventEnvelope>;

/** Every conversation event type the protocol knows (the channel header names one). */
export const EVENT_TYPES = conversationEvent.options.map((option) => option.shape.type.value);

/**
 * The small header of a live payload (docs/ARCHITECTURE.md "Publish format"): everything an edge decides on.
 * `t` the event type, `c` its conversation, `s` a new message's seq (history replay leaves those out).
 */
export const liveHeader = z.object({
  pos: z.string().regex(/^\d+-\d+$/),
  ts: z.number().optional(),
  t: z.enum(EVENT_TYPES as [string, ...string[]]),
  c: z.string().max(100).optional(),
  s: z.number().int().nonnegative().optional(),
});
export type LiveHeader = z.infer<typeof liveHeader>;

/** A live payload split: the parsed header, and the client frame exactly as the API serialised it (`{...event, "pos"}`). */
export interface LivePayload {
  readonly header: LiveHeader;
  readonly frame: string;
}

/**
 * Splits a user-channel payload (`<header JSON>\n<client frame JSON>`) and parses the header with zod. The frame is
 * not parsed: it is checked to be the object the publisher spliced for this position (JSON never holds a raw newline,
 * so the first one ends the header). Undefined for anything malformed (never throws).
 */
export function parseLivePayload(text: string): LivePayload | undefined {
  const split = text.indexOf("\n");
  if (split < 0) return undefined;
  const header = parseJsonWith(liveHeader, text.slice(0, split));
  if (header === undefined) return undefined;
  const frame = text.slice(split + 1);
  if (!frame.startsWith("{") || !frame.endsWith(`"pos":"${header.pos}"}`)) return undefined;
  return { header, frame };
}

/** Parses a payload of a user's channel completely (event validated with zod); undefined for anything malformed. */
export function parseEnvelope(text: string): EventEnvelope | undefined {
  const live = parseLivePayload(text);
  if (live === undefined) return undefined;
  const frame = parseJsonWith(z.looseObject({ pos: z.string() }), live.frame);
  if (frame === undefined) return undefined;
  const { pos: _pos, ...event } = frame;
  const parsed = conversationEvent.safeParse(event);
  if (!parsed.success) return undefined;
  return { pos: live.header.pos, ...(live.header.ts === undefined ? {} : { ts: live.header.ts }), event: parsed.data };
}

export function parseStoredEvent(text: string): ConversationEvent | undefined {
  return parseJsonWith(conversationEvent, text);
}

/** The header fields that do not depend on the recipient (everything but pos and ts), as the publisher writes them. */
export function staticHeaderOf(event: ConversationEvent): Omit<LiveHeader, "pos" | "ts"> {
  const conversation = event.type === "conversation_updated" ? event.conversation.id : event.conversation_id;
  return { t: event.type, c: conversation, ...(event.type === "new_message" ? { s: event.message.seq } : {}) };
}

/** Compares two stream positions (`ms-seq`, decimal without leading zeros) without allocating numbers: on every delivery. */
export function comparePos(a: string, b: string): number {
  if (a === b) return 0;
  const dashA = a.indexOf("-");
  const dashB = b.indexOf("-");
  const ms = compareDigits(dashA < 0 ? a : a.slice(0, dashA), dashB < 0 ? b : b.slice(0, dashB));
  if (ms !== 0) return ms;
  return compareDigits(dashA < 0 ? "0" : a.slice(dashA + 1), dashB < 0 ? "0" : b.slice(dashB + 1));
}

function compareDigits(x: string, y: string): number {
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}
