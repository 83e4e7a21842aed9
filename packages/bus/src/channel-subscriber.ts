import { isCluster, type RedisClient } from "./redis-client";
import { ShardedSubscriber } from "./sharded-subscriber";

type Handler = (message: string, channel: string) => void;

interface ChannelState {
  readonly handlers: Set<Handler>;
  /** The SUBSCRIBE/UNSUBSCRIBE calls for this channel, in order, so a quick leave-and-rejoin stays subscribed. */
  pending: Promise<void>;
}

/**
 * One Redis subscriber connection per node, shared by every socket: a channel is SUBSCRIBEd when its
 * first handler arrives and UNSUBSCRIBEd after its last handler leaves (ref-counted). On a Redis Cluster the
 * channels are sharded (SSUBSCRIBE on the master of the channel's slot; ioredis moves them after a failover).
 */
export class ChannelSubscriber {
  private readonly channels = new Map<string, ChannelState>();
  private closed = false;
  /** Channels to SUBSCRIBE together: sockets arriving in the same tick cost one command, not one each. */
  private batch: { readonly channels: string[]; readonly done: Promise<void> } | undefined;

  /** On a cluster: the sharded subscriber connections (one per master); undefined on a single Redis. */
  private readonly shards: ShardedSubscriber | undefined;

  constructor(private readonly redis: RedisClient) {
    const dispatch = (channel: string, message: string) => {
      const state = this.channels.get(channel);
      if (!state) return;
      for (const handler of state.handlers) handler(message, channel);
    };
    if (isCluster(redis)) this.shards = new ShardedSubscriber(redis, dispatch);
    else redis.on("message", dispatch);
  }

  /** Adds a handler; resolves once Redis confirmed the subscription. Returns the function that removes it. */
  async subscribe(channel: string, handler: Handler): Promise<() => Promise<void>> {
    if (this.closed) throw new Error("subscriber is closed");
    let state = this.channels.get(channel);
    if (!state) {
      state = { handlers: new Set(), pending: Promise.resolve() };
      this.channels.set(channel, state);
    }
    const first = state.handlers.size === 0;
    state.handlers.add(handler);
    if (first) state.pending = this.after(state.pending, () => this.subscribeBatched(channel));
    try {
      await state.pending;
    } catch (error) {
      // The SUBSCRIBE failed (Redis away): forget this handler, so the next caller subscribes afresh.
      state.handlers.delete(handler);
      if (state.handlers.size === 0 && this.channels.get(channel) === state) this.channels.delete(channel);
      throw error;
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      await this.remove(channel, handler);
    };
  }

  private subscribeBatched(channel: string): Promise<void> {
    if (this.batch === undefined) {
      const channels: string[] = [];
      const done = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        this.batch = undefined;
        await this.join(channels);
      });
      this.batch = { channels, done };
    }
    this.batch.channels.push(channel);
    return this.batch.done;
  }

  private async join(channels: readonly string[]): Promise<void> {
    // SSUBSCRIBE takes channels of one slot at a time: one command per channel.
    const shards = this.shards;
    if (shards) await Promise.all(channels.map((channel) => shards.ssubscribe(channel)));
    else await this.redis.subscribe(...channels);
  }

  /**
   * Calls `listener` whenever the subscriptions come back after a connection was lost (events published meanwhile
   * were missed); `confirmed` resolves once they are in place again. Returns the function that stops listening.
   */
  onResubscribed(listener: (confirmed: () => Promise<void>) => void): () => void {
    if (this.shards) return this.shards.onResubscribed(listener);
    const redis = this.redis;
    // ioredis has just re-sent SUBSCRIBE: a PING queued after it answers once the subscriptions are back.
    const onReady = () => listener(async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await redis.ping();
    });
    redis.on("ready", onReady);
    return () => redis.off("ready", onReady);
  }

  /** How many channels this node is subscribed to (a metric). */
  get channelCount(): number {
    return this.channels.size;
  }

  private async remove(channel: string, handler: Handler): Promise<void> {
    const state = this.channels.get(channel);
    if (!state?.handlers.delete(handler) || state.handlers.size > 0) return;
    state.pending = this.after(state.pending, async () => {
      // Someone may have rejoined while the previous call was in flight.
      if (state.handlers.size > 0 || this.closed) return;
      await (this.shards ? this.shards.sunsubscribe(channel) : this.redis.unsubscribe(channel));
      if (state.handlers.size === 0) this.channels.delete(channel);
      else await this.join([channel]);
    });
    await state.pending;
  }

  private after(previous: Promise<void>, next: () => Promise<unknown>): Promise<void> {
    return previous.catch(() => undefined).then(async () => {
      await next();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.channels.clear();
    this.shards?.close();
    if (this.redis.status !== "end") await this.redis.quit().catch(() => undefined);
  }
}
