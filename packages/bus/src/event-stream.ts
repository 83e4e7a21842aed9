import type { ConversationEvent } from "@parley/protocol";
import { comparePos, parseStoredEvent } from "./envelope";
import { busKeys } from "./keys";
import type { RedisClient } from "./redis-client";

export type ReplayResult =
  | {
      ok: true;
      events: { pos: string; event: ConversationEvent }[];
      more: boolean;
      /** The id of the last entry read, parsed or not: where the next page starts (undefined when none was read). */
      last: string | undefined;
      /** Entries of this page that did not parse (e.g. an event type this node does not know yet): left out. */
      skipped: string[];
    }
  | { ok: false; reason: "too_old" };

/**
 * Reads a user's stream after `since` (exclusive), oldest first. Answers too_old when entries after
 * `since` were trimmed away, so the client must refetch over REST. A page can have fewer events than entries
 * (even none while `more`): the next page starts after `last`, never after the last event.
 */
export async function readUserStream(redis: RedisClient, keyPrefix: string, userId: string, since: string, count = 500): Promise<ReplayResult> {
  const key = busKeys(keyPrefix).userStream(userId);
  if (!(await redis.exists(key))) {
    // No stream, yet a position in one: it was lost (Redis restarted without its data), and with it what came after.
    return since === NO_POSITION ? { ok: true, events: [], more: false, last: undefined, skipped: [] } : { ok: false, reason: "too_old" };
  }
  const entries = await redis.xrange(key, `(${since}`, "+", "COUNT", count);
  // Checked after the read: trimming only removes the oldest entries, so if nothing after `since` is gone now,
  // nothing was gone when the entries were read (checking first would let a trim in between open a silent gap).
  if (await gonePast(redis, key, since)) return { ok: false, reason: "too_old" };
  const events: { pos: string; event: ConversationEvent }[] = [];
  const skipped: string[] = [];
  for (const [pos, fields] of entries) {
    const index = fields.indexOf("e");
    const json = index >= 0 ? fields[index + 1] : undefined;
    const event = json === undefined ? undefined : parseStoredEvent(json);
    if (event) events.push({ pos, event });
    else skipped.push(pos);
  }
  return { ok: true, events, more: entries.length === count, last: entries.at(-1)?.[0], skipped };
}

/** The newest position of a user's stream ("0-0" when empty): where a fresh client starts. */
export async function latestPos(redis: RedisClient, keyPrefix: string, userId: string): Promise<string> {
  const [last] = await redis.xrevrange(busKeys(keyPrefix).userStream(userId), "+", "-", "COUNT", 1);
  return last?.[0] ?? NO_POSITION;
}

/** The position of a client that started before its stream existed. */
const NO_POSITION = "0-0";

/** Whether entries after `since` are gone: trimmed away, or lost with a stream that started over after `since`. */
async function gonePast(redis: RedisClient, key: string, since: string): Promise<boolean> {
  const info = (await redis.call("XINFO", "STREAM", key)) as unknown[];
  const field = (name: string): unknown => {
    const index = info.indexOf(name);
    return index >= 0 ? info[index + 1] : undefined;
  };
  const length = Number(field("length"));
  const added = Number(field("entries-added"));
  const first = field("first-entry");
  if (!(added > length)) {
    // Nothing trimmed, so the stream holds every entry it ever had: a position before its first one came from an
    // earlier stream under the same key, lost since (Redis restarted without its data).
    return since !== NO_POSITION && Array.isArray(first) && typeof first[0] === "string" && comparePos(since, first[0]) < 0;
  }
  // Something was trimmed: everything before the oldest kept entry is gone.
  if (Array.isArray(first) && typeof first[0] === "string") return comparePos(since, first[0]) < 0;
  const lastGenerated = field("last-generated-id");
  return typeof lastGenerated === "string" && comparePos(since, lastGenerated) < 0;
}
