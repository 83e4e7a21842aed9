import { conversationEvent, type ConversationEvent } from "@parley/protocol";
import { z } from "zod";

/** What travels on a user's channel: the event, its position in that user's stream, and its commit time (ms). */
export const eventEnvelope = z.object({ pos: z.string().regex(/^\d+-\d+$/), ts: z.number().optional(), event: conversationEvent });
export type EventEnvelope = z.infer<typeof eventEnvelope>;

/** Parses a JSON payload from Redis with `schema`; undefined for anything malformed (never throws). */
export function parseJsonWith<S extends z.ZodType>(schema: S, text: string): z.output<S> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** Parses a payload of a user's channel; undefined for anything that is not a well-formed envelope. */
export function parseEnvelope(text: string): EventEnvelope | undefined {
  return parseJsonWith(eventEnvelope, text);
}

export function parseStoredEvent(text: string): ConversationEvent | undefined {
  return parseJsonWith(conversationEvent, text);
}

/** Compares two stream positions (`ms-seq`). */
export function comparePos(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split("-").map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split("-").map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}
