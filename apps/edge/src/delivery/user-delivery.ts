import { parseEnvelope, parseLivePayload, type BusKeys, type ChannelSubscriber, type EventEnvelope } from "@parley/bus";
import type { Logger } from "@parley/observability";
import type { Connection } from "../connection";
import { deliverableOfLive } from "./event-gate";
import { TopicHub } from "./topic-hub";

export interface UserDeliveryOptions {
  readonly subscriber: ChannelSubscriber;
  readonly keys: BusKeys;
  readonly logger: Logger;
  /** Sees every `conversation_updated` event (fully parsed) once per node before it fans out (membership cache invalidation). */
  readonly observe?: (userId: string, envelope: EventEnvelope) => void;
  /** Counts a payload that did not parse (and was skipped). */
  readonly onMalformed?: () => void;
}

/**
 * The user channels: the node subscribes to a user's channel when that user's first socket arrives and
 * unsubscribes after the last leaves. Only a payload's small header is parsed (zod); its client frame, serialised once
 * by the publisher, is written as is to every socket of the user. The rare `conversation_updated` is parsed in full,
 * because the node acts on its participants.
 */
export class UserDelivery {
  private readonly hub: TopicHub<Connection>;

  constructor(private readonly options: UserDeliveryOptions) {
    this.hub = new TopicHub(options.subscriber, (channel, message, listeners) => {
      this.fanOut(channel, message, listeners);
    });
  }

  /** Resolves once the user's live events reach this socket. */
  join(connection: Connection): Promise<void> {
    return this.hub.join(this.options.keys.userChannel(connection.userId), connection);
  }

  leave(connection: Connection): Promise<void> {
    return this.hub.leave(this.options.keys.userChannel(connection.userId), connection);
  }

  private fanOut(channel: string, message: string, listeners: ReadonlySet<Connection>): void {
    const live = parseLivePayload(message);
    if (!live) {
      this.malformed(channel);
      return;
    }
    if (live.header.t === "conversation_updated" && this.options.observe) {
      const envelope = parseEnvelope(message);
      if (!envelope) {
        this.malformed(channel);
        return;
      }
      const first = listeners.values().next();
      if (first.done !== true) this.options.observe(first.value.userId, envelope);
    }
    const event = deliverableOfLive(live);
    for (const connection of listeners) connection.deliver(event);
  }

  private malformed(channel: string): void {
    this.options.onMalformed?.();
    this.options.logger.warn({ channel }, "dropped a malformed envelope");
  }
}
