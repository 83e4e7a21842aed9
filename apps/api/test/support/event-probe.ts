import { ChannelSubscriber, busKeys, comparePos, latestPos, parseEnvelope, readUserStream, type EventEnvelope } from "@parley/bus";
import type { ConversationEvent } from "@parley/protocol";
import { waitFor } from "@parley/testing";
import { Redis } from "ioredis";
import type { ApiHarness } from "./api-harness";

/**
 * Listens on users' live channels as an edge would. `next()` waits until every event committed so far has
 * been published and has also arrived live, then returns each user's new events (read from their stream,
 * so a duplicate or a missing delivery shows).
 */
export class EventProbe {
  private readonly live = new Map<string, EventEnvelope[]>();
  private readonly since = new Map<string, string>();

  private constructor(
    private readonly api: ApiHarness,
    private readonly redis: Redis,
    private readonly subscriber: ChannelSubscriber,
  ) {}

  static async start(api: ApiHarness, userIds: readonly string[]): Promise<EventProbe> {
    const redis = new Redis(api.redis.url, { lazyConnect: true });
    await redis.connect();
    const subscriberConnection = new Redis(api.redis.url, { lazyConnect: true });
    await subscriberConnection.connect();
    const probe = new EventProbe(api, redis, new ChannelSubscriber(subscriberConnection));
    await api.node.relay.flush();
    for (const userId of userIds) {
      probe.live.set(userId, []);
      probe.since.set(userId, await latestPos(redis, api.redis.prefix, userId));
      await probe.subscriber.subscribe(busKeys(api.redis.prefix).userChannel(userId), (message) => {
        const envelope = parseEnvelope(message);
        if (envelope) probe.live.get(userId)?.push(envelope);
      });
    }
    return probe;
  }

  /** Each user's events since the last call, once they are both in the stream and received live. */
  async next(): Promise<Map<string, ConversationEvent[]>> {
    await this.api.node.relay.flush();
    const out = new Map<string, ConversationEvent[]>();
    for (const [userId, since] of this.since) {
      const replay = await readUserStream(this.redis, this.api.redis.prefix, userId, since);
      if (!replay.ok) throw new Error("stream trimmed during a test");
      const positions = replay.events.map((e) => e.pos);
      await waitFor(() => positions.every((pos) => this.live.get(userId)?.some((e) => e.pos === pos)), { timeout: 5000 });
      const liveCount = this.live.get(userId)?.filter((e) => comparePos(e.pos, since) > 0).length ?? 0;
      if (liveCount !== positions.length) throw new Error(`user ${userId}: ${positions.length} events in the stream, ${liveCount} live`);
      out.set(userId, replay.events.map((e) => e.event));
      const last = positions.at(-1);
      if (last !== undefined) this.since.set(userId, last);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.subscriber.close();
    this.redis.disconnect();
  }
}

export function ofType<T extends ConversationEvent["type"]>(events: readonly ConversationEvent[] | undefined, type: T): Extract<ConversationEvent, { type: T }>[] {
  return (events ?? []).filter((e): e is Extract<ConversationEvent, { type: T }> => e.type === type);
}
