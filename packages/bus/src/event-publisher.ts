import type { ConversationEvent } from "@parley/protocol";
import type { Redis, Result } from "ioredis";
import { staticHeaderOf } from "./envelope";
import { busKeys, type BusKeys } from "./keys";
import { isCluster, type RedisClient } from "./redis-client";
import { defineShardedPublish, publishSharded, type ShardedEvent } from "./sharded-publish";

// One event, all its recipients (a chunk of them): appends to each user's stream and publishes on each user's channel
// in one step, so a subscriber never sees an event that resume could not replay. One idempotency marker per event
// chunk holds every recipient's pos, so a relay retry appends nothing and answers the same positions.
// KEYS: marker, then stream and channel of each recipient. ARGV: max stream length, event JSON, marker TTL seconds,
// commit time (ms), the recipient-independent header fields (`,"t":...`). Returns the positions, comma-separated.
// The payload is `<header>\n<client frame>`; the frame is the event JSON with its `pos` spliced in, built here once
// per recipient so edges forward it without parsing or re-serialising it.
const APPEND_AND_PUBLISH = `
local previous = redis.call('GET', KEYS[1])
if previous then return previous end
local body = string.sub(ARGV[2], 1, -2)
local positions = {}
for i = 2, #KEYS, 2 do
  local pos = redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
  redis.call('PUBLISH', KEYS[i + 1], '{"pos":"' .. pos .. '","ts":' .. ARGV[4] .. ARGV[5] .. '}\\n' .. body .. ',"pos":"' .. pos .. '"}')
  positions[#positions + 1] = pos
end
local joined = table.concat(positions, ',')
redis.call('SET', KEYS[1], joined, 'EX', ARGV[3])
return joined
`;

/** Recipients per script call: bounds the script's key count (and how long it blocks Redis) for very large audiences. */
const RECIPIENTS_PER_CALL = 500;

export interface PublishableEvent {
  /** A unique, stable id (the outbox row id): publishing the same id twice appends it once per user. */
  readonly id: string;
  readonly recipients: readonly string[];
  readonly event: ConversationEvent;
  /** When the change committed (ms since epoch): edges measure delivery latency from it. */
  readonly committedAt?: number;
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
    for (const { id, recipients, event, committedAt } of events) {
      const { json, ts, headerTail } = shape(id, event, committedAt);
      const users = [...new Set(recipients)];
      for (let start = 0, part = 0; start < users.length; start += RECIPIENTS_PER_CALL, part += 1) {
        const chunk = users.slice(start, start + RECIPIENTS_PER_CALL);
        const keys: string[] = [this.keys.eventDelivered(id, part)];
        for (const userId of chunk) keys.push(this.keys.userStream(userId), this.keys.userChannel(userId));
        pipeline.parleyPublishEvent(keys.length, ...keys, this.maxLength, json, this.dedupeTtl, ts, headerTail);
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
    for (const { id, recipients, event, committedAt } of events) {
      const shapedEvent = shape(id, event, committedAt);
      shaped.push(shapedEvent);
      for (const userId of new Set(recipients)) {
        const own = perUser.get(userId);
        if (own) own.push(shapedEvent);
        else perUser.set(userId, [shapedEvent]);
      }
    }
    return publishSharded(redis, this.keys, shaped, perUser, { maxLength: this.maxLength, dedupeTtl: this.dedupeTtl });
  }
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
