import { conversationEvent, type ConversationEvent } from "@parley/protocol";
import { z } from "zod";

/** What travels on a user's channel: the event, its position in that user's stream, and its commit time (ms). */
export const eventEnvelope = z.object({ pos: z.string().regex(/^\d+-\d+$/), ts: z.number().optional(), event: conversationEvent });
export type EventEnvelope = z.infer<typeof eventEnvelope>;

/** Parses a Redis payload; returns undefined for anything that is not a well-formed envelope. */
export function parseEnvelope(text: string): EventEnvelope | undefined {
  try {
    const parsed = eventEnvelope.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function parseStoredEvent(text: string): ConversationEvent | undefined {
  try {
    const parsed = conversationEvent.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Compares two stream positions (`ms-seq`). */
export function comparePos(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split("-").map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split("-").map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}
