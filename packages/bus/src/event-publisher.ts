import type { ConversationEvent } from "@parley/protocol";
import type { Redis, Result } from "ioredis";
import { staticHeaderOf } from "./envelope";
import { busKeys, type BusKeys } from "./keys";
import { isCluster, type RedisClient } from "./redis-client";
import { defineShardedPublish, publishSharded, type ShardedEvent } from "./sharded-publish";

// One event, all its recipients (a chunk of them): appends to each user's stream and publishes on each user's channel
// in one step, so a subscriber never sees an event that resume could not replay. One idempotency marker per event
// chunk holds every recipient's pos, so a relay retry appends nothing and answers the same positions.
// A recipient may have a companion event of their own (a `new_message` carries each recipient's new `unread_count`):
// appended and published right after the shared one, so a message is one call whatever its audience.
// KEYS: marker, then stream and channel of each recipient. ARGV: max stream length, event JSON, marker TTL seconds,
// commit time (ms), the recipient-independent header fields (`,"t":...`), the companions' header fields, then per
// recipient its companion's JSON ('' for none). Returns the shared event's positions, comma-separated.
// The payload is `<header>\n<client frame>`; the frame is the event JSON with its `pos` spliced in, built here once
// per recipient so edges forward it without parsing or re-serialising it.
const APPEND_AND_PUBLISH = `
local previous = redis.call('GET', KEYS[1])
if previous then return previous end
local body = string.sub(ARGV[2], 1, -2)
local positions = {}
local r = 6
for i = 2, #KEYS, 2 do
  local pos = redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
  redis.call('PUBLISH', KEYS[i + 1], '{"pos":"' .. pos .. '","ts":' .. ARGV[4] .. ARGV[5] .. '}\\n' .. body .. ',"pos":"' .. pos .. '"}')
  positions[#positions + 1] = pos
  r = r + 1
  local companion = ARGV[r]
  if companion and companion ~= '' then
    local own = redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], '*', 'e', companion)
    redis.call('PUBLISH', KEYS[i + 1], '{"pos":"' .. own .. '","ts":' .. ARGV[4] .. ARGV[6] .. '}\\n' .. string.sub(companion, 1, -2) .. ',"pos":"' .. own .. '"}')
  end
end
local joined = table.concat(positions, ',')
redis.call('SET', KEYS[1], joined, 'EX', ARGV[3])
return joined
`;

/** Recipients per script call: bounds the script's key count (and how long it blocks Redis) for very large audiences. */
const RECIPIENTS_PER_CALL = 500;

/** A recipient's new unread counter, published as their own `unread_count` right after the event it rides with. */
export interface UnreadCompanion {
  readonly userId: string;
  readonly unread: number;
  readonly total: number;
}

export interface PublishableEvent {
  /** A unique, stable id (the outbox row id): publishing the same id twice appends it once per user. */
  readonly id: string;
  readonly recipients: readonly string[];
  readonly event: ConversationEvent;
  /** When the change committed (ms since epoch): edges measure delivery latency from it. */
  readonly committedAt?: number;
  /** Recipients' `unread_count` events about the event's conversation (a `new_message`'s), each after the event. */
  readonly unread?: readonly UnreadCompanion[];
}

export interface EventPublisherOptions {
  /** A single Redis, or a cluster (then per-recipient calls and sharded channels: sharded-publish.ts). */
  readonly redis: RedisClient;
  readonly keyPrefix: string;
  /** How many events a user's stream keeps for resume (approximate trimming). */
  readonly streamMaxLength?: number;
  /** How long the delivered-marker of an event id lives; a relay retry later than this could double it. */
  readonly dedupeTtlSeconds?: number;
}

/** Publishes committed events to each recipient's stream and channel. Used by the API and its outbox relay. */
export class EventPublisher {
  private readonly keys: BusKeys;
  private readonly maxLength: number;
  private readonly dedupeTtl: number;

  constructor(private readonly options: EventPublisherOptions) {
    this.keys = busKeys(options.keyPrefix);
    this.maxLength = options.streamMaxLength ?? 10_000;
    this.dedupeTtl = options.dedupeTtlSeconds ?? 86_400;
    // The key count varies with the audience: given first in each call.
    if (isCluster(options.redis)) defineShardedPublish(options.redis);
    else options.redis.defineCommand("parleyPublishEvent", { lua: APPEND_AND_PUBLISH });
  }

  /**
   * Publishes events in the given order, one script call per event (per chunk of its recipients), all in one
   * pipeline: one Redis round trip per batch, each event serialised once. Returns each recipient's pos per event id.
   * Throws when Redis fails; the caller leaves the events to the relay.
   */
  async publish(events: readonly PublishableEvent[]): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>();
    if (events.length === 0) return out;
    const redis = this.options.redis;
    if (isCluster(redis)) return this.publishToCluster(redis, events);
    const pipeline = redis.pipeline();
    const order: { id: string; users: string[] }[] = [];
    for (const { id, recipients, event, committedAt, unread } of events) {
      const { json, ts, headerTail } = shape(id, event, committedAt);
      const companions = companionsOf(event, unread);
      const users = [...new Set(recipients)];
      for (let start = 0, part = 0; start < users.length; start += RECIPIENTS_PER_CALL, part += 1) {
        const chunk = users.slice(start, start + RECIPIENTS_PER_CALL);
        const keys: string[] = [this.keys.eventDelivered(id, part)];
        for (const userId of chunk) keys.push(this.keys.userStream(userId), this.keys.userChannel(userId));
        const own = companions ? chunk.map((userId) => companions.json.get(userId) ?? "") : [];
        pipeline.parleyPublishEvent(keys.length, ...keys, this.maxLength, json, this.dedupeTtl, ts, headerTail, companions?.headerTail ?? "", ...own);
        order.push({ id, users: chunk });
      }
    }
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([error, joined], index) => {
      if (error) throw error;
      const target = order[index];
      if (!target || typeof joined !== "string") return;
      let perUser = out.get(target.id);
      if (!perUser) {
        perUser = new Map<string, string>();
        out.set(target.id, perUser);
      }
      const positions = joined.split(",");
      target.users.forEach((userId, i) => {
        const pos = positions[i];
        if (pos !== undefined && pos !== "") perUser.set(userId, pos);
      });
    });
    return out;
  }

  private publishToCluster(redis: Exclude<RedisClient, Redis>, events: readonly PublishableEvent[]): Promise<Map<string, Map<string, string>>> {
    const shaped: ShardedEvent[] = [];
    const perUser = new Map<string, ShardedEvent[]>();
    const add = (userId: string, shapedEvent: ShardedEvent) => {
      const own = perUser.get(userId);
      if (own) own.push(shapedEvent);
      else perUser.set(userId, [shapedEvent]);
    };
    for (const { id, recipients, event, committedAt, unread } of events) {
      const shapedEvent = shape(id, event, committedAt);
      shaped.push(shapedEvent);
      const companions = companionsOf(event, unread);
      for (const userId of new Set(recipients)) {
        add(userId, shapedEvent);
        // The companion is the user's own event, after the shared one in the same call, with its own marker.
        const json = companions?.json.get(userId);
        if (json !== undefined && companions) add(userId, { id: `${id}:u`, json, ts: shapedEvent.ts, headerTail: companions.headerTail });
      }
    }
    return publishSharded(redis, this.keys, shaped, perUser, { maxLength: this.maxLength, dedupeTtl: this.dedupeTtl });
  }
}

/** Each recipient's `unread_count` companion serialised, and the header fields they share; undefined without any. */
function companionsOf(event: ConversationEvent, unread: readonly UnreadCompanion[] | undefined): { json: Map<string, string>; headerTail: string } | undefined {
  if (unread === undefined || unread.length === 0) return undefined;
  const conversationId = event.type === "conversation_updated" ? event.conversation.id : event.conversation_id;
  // Serialised once, numbers spliced in per recipient: JSON.stringify of an object per recipient was the publisher's
  // largest own cost. The same text as JSON.stringify of the whole event (only integers are spliced in).
  const head = JSON.stringify({ type: "unread_count", conversation_id: conversationId, unread_count: 0 }).slice(0, -2);
  const json = new Map<string, string>();
  for (const { userId, unread: count, total } of unread) json.set(userId, `${head}${count},"total":${total}}`);
  const header = JSON.stringify(staticHeaderOf({ type: "unread_count", conversation_id: conversationId, unread_count: 0, total: 0 }));
  return { json, headerTail: `,${header.slice(1, -1)}` };
}

/** The event serialised once for all its recipients, with its commit time and header fields. */
function shape(id: string, event: ConversationEvent, committedAt: number | undefined): ShardedEvent {
  const header = JSON.stringify(staticHeaderOf(event));
  // `{"t":...}` → `,"t":...` : appended after pos and ts in the script.
  return { id, json: JSON.stringify(event), ts: Math.round(committedAt ?? Date.now()), headerTail: header === "{}" ? "" : `,${header.slice(1, -1)}` };
}

declare module "ioredis" {
  interface RedisCommander<Context> {
    parleyPublishEvent(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Result<string, Context>;
  }
}
