import type { ChannelSubscriber } from "@parley/bus";

interface Topic<L> {
  readonly listeners: Set<L>;
  /** Resolves to the function that removes this node's handler, once Redis confirmed the SUBSCRIBE. */
  readonly subscribed: Promise<() => Promise<void>>;
}

/**
 * Local listeners of Redis channels, over the node's one subscriber connection: the node subscribes to a channel
 * when its first local listener joins and unsubscribes after the last one leaves, whatever the number of sockets.
 */
export class TopicHub<L> {
  private readonly topics = new Map<string, Topic<L>>();

  constructor(
    private readonly subscriber: ChannelSubscriber,
    private readonly onMessage: (channel: string, message: string, listeners: ReadonlySet<L>) => void,
  ) {}

  /** Adds a listener; resolves once the node receives the channel's messages. */
  async join(channel: string, listener: L): Promise<void> {
    let topic = this.topics.get(channel);
    if (!topic) {
      const listeners = new Set<L>();
      const subscribed = this.subscriber.subscribe(channel, (message) => {
        this.onMessage(channel, message, listeners);
      });
      const created: Topic<L> = { listeners, subscribed };
      topic = created;
      this.topics.set(channel, created);
      subscribed.catch(() => {
        if (this.topics.get(channel) === created) this.topics.delete(channel);
      });
    }
    topic.listeners.add(listener);
    try {
      await topic.subscribed;
    } catch (error) {
      topic.listeners.delete(listener);
      throw error;
    }
  }

  async leave(channel: string, listener: L): Promise<void> {
    const topic = this.topics.get(channel);
    if (!topic?.listeners.delete(listener) || topic.listeners.size > 0) return;
    this.topics.delete(channel);
    const remove = await topic.subscribed.catch(() => undefined);
    await remove?.();
  }

  listeners(channel: string): ReadonlySet<L> {
    return this.topics.get(channel)?.listeners ?? new Set<L>();
  }

  has(channel: string): boolean {
    return this.topics.has(channel);
  }
}
