import { parseEnvelope, type BusKeys, type ChannelSubscriber, type EventEnvelope } from "@parley/bus";
import type { Logger } from "@parley/observability";
import type { Connection } from "../connection";
import { TopicHub } from "./topic-hub";

export interface UserDeliveryOptions {
  readonly subscriber: ChannelSubscriber;
  readonly keys: BusKeys;
  readonly logger: Logger;
  /** Sees every event once per node before it fans out (membership cache invalidation). */
  readonly observe?: (userId: string, envelope: EventEnvelope) => void;
}

/**
 * The user channels: the node subscribes to a user's channel when that user's first socket arrives and
 * unsubscribes after the last leaves; each event is parsed once and written to every socket of the user.
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
    const envelope = parseEnvelope(message);
    if (!envelope) {
      this.options.logger.warn({ channel }, "dropped a malformed envelope");
      return;
    }
    const first = listeners.values().next();
    if (first.done !== true) this.options.observe?.(first.value.userId, envelope);
    for (const connection of listeners) connection.deliver(envelope);
  }
}
