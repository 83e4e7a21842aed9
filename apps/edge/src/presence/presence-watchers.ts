import type { BusKeys, ChannelSubscriber, PresenceStore } from "@parley/bus";
import type { Logger } from "@parley/observability";
import { parseJsonWith, presenceEvent, type Presence } from "@parley/protocol";
import type { Clock } from "@parley/config";
import type { Connection } from "../connection";
import { TopicHub } from "../delivery/topic-hub";

export interface PresenceWatchersOptions {
  readonly subscriber: ChannelSubscriber;
  readonly store: PresenceStore;
  readonly keys: BusKeys;
  readonly clock: Clock;
  readonly graceMs: number;
  /** How often watched users are re-read from the store (catches nodes that died without announcing). */
  readonly pollMs: number;
  readonly logger: Logger;
}

/**
 * `watch_presence`: each watched user's presence channel is subscribed while a local socket watches them; a
 * `presence` frame goes out only when the status changes. A poll of the store catches users whose node died
 * (their entries expire by themselves and nobody announces it).
 */
export class PresenceWatchers {
  private readonly hub: TopicHub<Connection>;
  private readonly known = new Map<string, Presence>();
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: PresenceWatchersOptions) {
    this.hub = new TopicHub(options.subscriber, (channel, message) => {
      this.receive(channel, message);
    });
  }

  start(): void {
    this.pollTimer ??= setInterval(() => void this.poll(), this.options.pollMs);
    this.pollTimer.unref();
  }

  /** Replaces what the socket watches with `visible` (the users the API lets it see, with their presence). */
  async watch(connection: Connection, visible: readonly Presence[]): Promise<void> {
    const next = new Set(visible.map((presence) => presence.user_id));
    for (const userId of [...connection.watched]) if (!next.has(userId)) await this.unwatch(connection, userId);
    for (const presence of visible) {
      if (!this.known.has(presence.user_id)) this.known.set(presence.user_id, presence);
      if (connection.watched.has(presence.user_id)) continue;
      connection.watched.add(presence.user_id);
      await this.hub.join(this.options.keys.presenceChannel(presence.user_id), connection);
      if (connection.isClosing()) {
        // The socket closed meanwhile and its cleanup already ran: leave what was joined since.
        await this.unwatchAll(connection);
        return;
      }
    }
  }

  /** Stops one socket watching one user (a block between the two). */
  async stopWatching(connection: Connection, userId: string): Promise<void> {
    if (connection.watched.has(userId)) await this.unwatch(connection, userId);
  }

  async unwatchAll(connection: Connection): Promise<void> {
    for (const userId of [...connection.watched]) await this.unwatch(connection, userId);
  }

  private async unwatch(connection: Connection, userId: string): Promise<void> {
    connection.watched.delete(userId);
    const channel = this.options.keys.presenceChannel(userId);
    await this.hub.leave(channel, connection);
    if (!this.hub.has(channel)) this.known.delete(userId);
  }

  private receive(channel: string, message: string): void {
    const event = parseJsonWith(presenceEvent, message);
    if (!event) {
      this.options.logger.warn({ channel }, "dropped a malformed presence event");
      return;
    }
    const { type: _type, ...presence } = event;
    this.apply(presence);
  }

  private apply(presence: Presence): void {
    const channel = this.options.keys.presenceChannel(presence.user_id);
    if (!this.hub.has(channel)) return;
    const previous = this.known.get(presence.user_id);
    this.known.set(presence.user_id, presence);
    if (previous?.status === presence.status) return;
    const frame = { type: "presence" as const, ...presence };
    for (const connection of this.hub.listeners(channel)) connection.send(frame);
  }

  private async poll(): Promise<void> {
    const users = [...this.known.keys()];
    if (users.length === 0) return;
    try {
      const now = this.options.clock.now().getTime();
      for (const presence of await this.options.store.get(users)) {
        // A user whose last connection just closed is still within the grace period: not offline yet.
        const lastSeen = presence.last_seen === null ? undefined : Date.parse(presence.last_seen);
        if (presence.status === "offline" && lastSeen !== undefined && now - lastSeen < this.options.graceMs) continue;
        this.apply(presence);
      }
    } catch (error) {
      this.options.logger.warn({ err: error }, "presence poll failed");
    }
  }

  close(): void {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}
