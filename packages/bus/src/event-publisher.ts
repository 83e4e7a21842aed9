import type { ConversationEvent } from "@parley/protocol";
import type { Redis, Result } from "ioredis";
import { busKeys, type BusKeys } from "./keys";

// Appends to the user's stream and publishes on the user's channel in one step, so a subscriber
// never sees an event that resume could not replay. KEYS: stream, channel, delivered-marker.
// ARGV: max stream length, event JSON, marker TTL seconds, commit time (ms). Returns the pos (existing pos on a retry).
const APPEND_AND_PUBLISH = `
local previous = redis.call('GET', KEYS[3])
if previous then return previous end
local pos = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('SET', KEYS[3], pos, 'EX', ARGV[3])
redis.call('PUBLISH', KEYS[2], '{"pos":"' .. pos .. '","ts":' .. ARGV[4] .. ',"event":' .. ARGV[2] .. '}')
return pos
`;

export interface PublishableEvent {
  /** A unique, stable id (the outbox row id): publishing the same id twice appends it once per user. */
  readonly id: string;
  readonly recipients: readonly string[];
  readonly event: ConversationEvent;
  /** When the change committed (ms since epoch): edges measure delivery latency from it. */
  readonly committedAt?: number;
}

export interface EventPublisherOptions {
  readonly redis: Redis;
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
    options.redis.defineCommand("parleyAppendAndPublish", { numberOfKeys: 3, lua: APPEND_AND_PUBLISH });
  }

  /**
   * Publishes events in the given order (one script per recipient, pipelined), returning each
   * recipient's pos per event id. Throws when Redis fails; the caller leaves the events to the relay.
   */
  async publish(events: readonly PublishableEvent[]): Promise<Map<string, Map<string, string>>> {
    const out = new Map<string, Map<string, string>>();
    if (events.length === 0) return out;
    const pipeline = this.options.redis.pipeline();
    const order: { id: string; userId: string }[] = [];
    for (const { id, recipients, event, committedAt } of events) {
      const json = JSON.stringify(event);
      const ts = Math.round(committedAt ?? Date.now());
      for (const userId of new Set(recipients)) {
        pipeline.parleyAppendAndPublish(
          this.keys.userStream(userId),
          this.keys.userChannel(userId),
          this.keys.userDelivered(userId, id),
          this.maxLength,
          json,
          this.dedupeTtl,
          ts,
        );
        order.push({ id, userId });
      }
    }
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([error, pos], index) => {
      if (error) throw error;
      const target = order[index];
      if (!target || typeof pos !== "string") return;
      let perUser = out.get(target.id);
      if (!perUser) {
        perUser = new Map<string, string>();
        out.set(target.id, perUser);
      }
      perUser.set(target.userId, pos);
    });
    return out;
  }
}

declare module "ioredis" {
  interface RedisCommander<Context> {
    parleyAppendAndPublish(
      stream: string,
      channel: string,
      marker: string,
      maxLength: number,
      json: string,
      ttlSeconds: number,
      committedAt: number,
    ): Result<string, Context>;
  }
}
