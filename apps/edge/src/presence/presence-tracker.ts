import { publishToChannel, type BusKeys, type ConnectionRef, type PresenceStore, type RedisClient } from "@parley/bus";
import type { Clock, ClockTimer } from "@parley/config";
import type { Logger } from "@parley/observability";
import type { PresenceEvent, PresenceStatus } from "@parley/protocol";

export interface PresenceTrackerOptions {
  readonly store: PresenceStore;
  readonly redis: RedisClient;
  readonly keys: BusKeys;
  readonly nodeId: string;
  /** After a user's last connection closes, how long to wait before announcing them offline (a reconnect does not flap). */
  readonly graceMs: number;
  /** Whose time the grace period runs on (the store's `now` reads the same clock). */
  readonly clock: Clock;
  readonly logger: Logger;
  /** This node's live connections, refreshed in the store so they outlive the TTL only while the node lives. */
  readonly localRefs: () => ConnectionRef[];
}

/**
 * This node's side of cluster-wide presence: registers connections in the shared store (with the per-user cap),
 * keeps them alive, and announces changes on the user's presence channel: online with the first connection,
 * a status change, offline only once the last connection anywhere has been gone for the grace period.
 */
export class PresenceTracker {
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly graces = new Map<string, ClockTimer>();
  private closed = false;

  constructor(private readonly options: PresenceTrackerOptions) {}

  start(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setInterval(() => void this.refresh(), this.options.store.refreshIntervalMs);
    this.refreshTimer.unref();
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      await this.options.store.refresh(this.options.nodeId, this.options.localRefs());
    } catch (error) {
      this.options.logger.warn({ err: error }, "presence refresh failed");
    }
  }

  /** Adds a connection; undefined when the user is at the cap across the cluster. */
  async register(ref: ConnectionRef, maxPerUser: number): Promise<number | undefined> {
    const count = await this.options.store.register(ref, maxPerUser);
    if (count === 1) void this.announce(ref.userId);
    return count;
  }

  async unregister(ref: ConnectionRef): Promise<void> {
    const remaining = await this.options.store.unregister(ref);
    if (remaining === 0) this.afterGrace(ref.userId);
  }

  async setStatus(userId: string, status: Exclude<PresenceStatus, "offline">): Promise<void> {
    await this.options.store.setStatus(userId, status);
    await this.announce(userId);
  }

  /** Publishes the user's current presence to the nodes of their watchers. */
  async announce(userId: string): Promise<void> {
    try {
      const [presence] = await this.options.store.get([userId]);
      if (presence === undefined) return;
      const event: PresenceEvent = { type: "presence", ...presence };
      await publishToChannel(this.options.redis, this.options.keys.presenceChannel(userId), JSON.stringify(event));
    } catch (error) {
      this.options.logger.warn({ err: error, userId }, "presence announcement failed");
    }
  }

  private afterGrace(userId: string): void {
    if (this.closed || this.graces.has(userId)) return;
    const timer = this.options.clock.setTimeout(() => {
      this.graces.delete(userId);
      void this.options.store
        .connectionCount(userId)
        .then(async (count) => {
          if (count === 0) await this.announce(userId);
        })
        .catch((error: unknown) => {
          this.options.logger.warn({ err: error, userId }, "presence grace check failed");
        });
    }, this.options.graceMs);
    this.graces.set(userId, timer);
  }

  /** Stops refreshing and forgets this node (its connections were unregistered one by one). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.refreshTimer);
    for (const timer of this.graces.values()) timer.clear();
    this.graces.clear();
    await this.options.store.removeNode(this.options.nodeId).catch((error: unknown) => {
      this.options.logger.warn({ err: error }, "could not remove this node from presence");
    });
  }
}
