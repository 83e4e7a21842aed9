import { publishToChannel, type BusKeys, type ChannelSubscriber, type RedisClient } from "@parley/bus";
import type { Clock, ClockTimer } from "@parley/config";
import type { Logger } from "@parley/observability";
import { parseJsonWith, typingEvent, type TypingEvent } from "@parley/protocol";
import { z } from "zod";
import type { Connection } from "../connection";
import { TopicHub } from "../delivery/topic-hub";

/**
 * A typing signal on Redis: the frame, the node that published it and the users the typist blocked (who must not
 * see it). Never stored, never sent to clients as is.
 */
const typingSignal = typingEvent.extend({ node: z.string(), hide_from: z.array(z.string()).max(10_000).default([]) });

export interface TypingHubOptions {
  readonly subscriber: ChannelSubscriber;
  readonly redis: RedisClient;
  readonly keys: BusKeys;
  readonly nodeId: string;
  /** A typing indicator with no fresh `typing_start` for this long ends by itself. */
  readonly ttlMs: number;
  /** Whose time the TTL runs on. */
  readonly clock: Clock;
  readonly logger: Logger;
  /** Whether `viewerId` blocked `typistId`: then the viewer's sockets do not get the typist's typing. */
  readonly blocked: (viewerId: string, typistId: string) => boolean;
}

/**
 * Typing indicators: published on the conversation's channel, which a node subscribes to only while one of its
 * sockets has `subscribe`d to the conversation. Each receiving node expires an indicator on its own, so one
 * that stops (a node that died mid-sentence) still ends after `ttlMs`.
 */
export class TypingHub {
  private readonly hub: TopicHub<Connection>;
  private readonly expiries = new Map<string, ClockTimer>();

  constructor(private readonly options: TypingHubOptions) {
    this.hub = new TopicHub(options.subscriber, (channel, message) => {
      this.receive(channel, message);
    });
  }

  join(connection: Connection, conversationId: string): Promise<void> {
    return this.hub.join(this.options.keys.typingChannel(conversationId), connection);
  }

  leave(connection: Connection, conversationId: string): Promise<void> {
    return this.hub.leave(this.options.keys.typingChannel(conversationId), connection);
  }

  /** `hideFrom`: the users the typist blocked; no socket of theirs gets this signal, on any node. */
  async publish(conversationId: string, userId: string, isTyping: boolean, hideFrom: Iterable<string> = []): Promise<void> {
    const signal: z.input<typeof typingSignal> = { type: "typing", conversation_id: conversationId, user_id: userId, is_typing: isTyping, node: this.options.nodeId, hide_from: [...hideFrom] };
    await publishToChannel(this.options.redis, this.options.keys.typingChannel(conversationId), JSON.stringify(signal));
  }

  private receive(channel: string, message: string): void {
    const signal = parseJsonWith(typingSignal, message);
    if (!signal) {
      this.options.logger.warn({ channel }, "dropped a malformed typing signal");
      return;
    }
    const { node: _node, hide_from: hideFrom, ...frame } = signal;
    const hidden = new Set(hideFrom);
    const key = `${frame.conversation_id}|${frame.user_id}`;
    this.expiries.get(key)?.clear();
    this.expiries.delete(key);
    if (frame.is_typing) {
      const timer = this.options.clock.setTimeout(() => {
        this.expiries.delete(key);
        this.deliver(channel, { ...frame, is_typing: false }, hidden);
      }, this.options.ttlMs);
      this.expiries.set(key, timer);
    }
    this.deliver(channel, frame, hidden);
  }

  /**
   * To the local sockets subscribed to the conversation, except the typing user's own and those of anyone in a block
   * with them: the typist blocked them (`hidden`) or they blocked the typist.
   */
  private deliver(channel: string, frame: TypingEvent, hidden: ReadonlySet<string>): void {
    for (const connection of this.hub.listeners(channel)) {
      const viewer = connection.identity?.userId;
      if (viewer === undefined || viewer === frame.user_id || hidden.has(viewer) || this.options.blocked(viewer, frame.user_id)) continue;
      connection.send(frame);
    }
  }

  close(): void {
    for (const timer of this.expiries.values()) timer.clear();
    this.expiries.clear();
  }
}
