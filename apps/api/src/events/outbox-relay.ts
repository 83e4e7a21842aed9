import type { Database } from "@parley/db";
import type { EventPublisher } from "@parley/bus";
import type { Logger } from "@parley/observability";
import { sql } from "drizzle-orm";
import type { Counter, Registry } from "prom-client";
import { eventConversationId } from "@parley/db";
import type { OutboxRepository, PendingEvent, RelayPartition } from "../repositories/outbox-repository";
import { publishable, publishedCount, relayMetrics } from "./relay-metrics";
import type { Clock } from "@parley/config";

// One publisher at a time per partition (conversations hashed into PARTITIONS) keeps each conversation's events in
// commit order while the API nodes sweep different partitions in parallel.
const RELAY_LOCK = 0x7061726c; // "parl"
const PARTITIONS = 16;
// Partitions one node sweeps at once (each holds a database connection for its transaction).
const PARTITIONS_IN_FLIGHT = 2;
const BATCH = 200;
const RETRY_WHILE_BUSY_MS = 20;
// Events published from memory are deleted from the outbox in bulk this long after the first of them.
const MARK_DELAY_MS = 10;

export interface OutboxRelayOptions {
  readonly database: Database;
  readonly outbox: OutboxRepository;
  readonly publisher: EventPublisher;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly registry: Registry;
  /** How often unpublished rows are swept (events of a crashed node, of the worker, after a Redis outage). */
  readonly sweepIntervalMs?: number;
  /** Published rows are deleted after this long. */
  readonly retentionMs?: number;
  /** Partitions of the sweep (by conversation); every API node must use the same number. 16 unless given. */
  readonly partitions?: number;
  /** Receives each pass's events once published and committed (enqueues e-mail jobs); its failures are only logged. */
  readonly onPublished?: (events: readonly PendingEvent[]) => Promise<void>;
}

/** An event this node committed and means to publish itself: settles once published (true) or left to the sweep (false). */
interface Claim {
  readonly conversationId: string;
  /** Its transaction committed and this node is publishing it (or has, and not yet deleted the row). */
  committed: boolean;
  readonly settled: Promise<boolean>;
  readonly settle: (published: boolean) => void;
  published: boolean | undefined;
}

/**
 * Publishes outbox rows to Redis, two ways:
 * - from memory (`claim` + `publishCommitted`): a group-commit batch publishes its own events right after its commit,
 *   no second transaction, and the rows are deleted later, many at once, without waiting for the WAL flush;
 * - by a sweep (`kick`, and periodically): per partition of the conversations, a transaction under that partition's
 *   advisory lock reads its unpublished rows in id order, publishes and deletes them; API nodes sweep different
 *   partitions at once, so publishing grows with them. It catches events of other paths (edits, reads, membership), of the worker,
 *   of a crashed node, of a failed publish.
 * Per conversation, events reach every user's stream in commit order: a batch publishes from memory only if every
 * event of its conversations still unpublished when it took their locks is one of this node's claims (it then waits
 * for those to be published first); otherwise it leaves its events to the sweep, which publishes in id order. The
 * publisher's per-event marker makes a second publish of an event (sweep and memory racing) a no-op.
 */
export class OutboxRelay {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly published: Counter;
  private readonly failures: Counter;
  private readonly fromMemory: Counter;
  /** This node's events being published from memory, or published and not yet known to be marked. */
  private readonly claims = new Map<number, Claim>();
  /** Published from memory, to be marked in the next bulk update. */
  private toMark: number[] = [];
  /** Marked, still remembered for a while: a batch may have read them as unpublished just before the mark. */
  private recentlyMarked: Set<number>[] = [new Set(), new Set()];
  private marking: Promise<void> | undefined;
  private markTimer: NodeJS.Timeout | undefined;
  private readonly inMemory = new Set<Promise<void>>();
  /** A sweep left other writers' events of conversations with claims of this node: sweep again once claims settle. */
  private sweepAfterClaims = false;

  constructor(private readonly options: OutboxRelayOptions) {
    ({ published: this.published, failures: this.failures, fromMemory: this.fromMemory } = relayMetrics(options.registry, options.outbox));
  }

  start(): void {
    if (this.timer || this.closed) return;
    let sweeps = 0;
    this.timer = setInterval(() => {
      this.kick();
      // Two generations of ~1-2 s: longer than any transaction between its unpublished check and its commit.
      if (++sweeps % 2 === 0) this.recentlyMarked = [new Set(), this.recentlyMarked[0] ?? new Set()];
      if (sweeps % 600 === 0) void this.prune();
    }, this.options.sweepIntervalMs ?? 500);
    this.timer.unref();
  }

  /** Asks for a pass soon; concurrent kicks coalesce into at most one more pass. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Waits until everything committed so far has been published by this node or another. */
  async flush(): Promise<void> {
    await this.settleInMemory();
    this.kick();
    while (this.running) await this.running;
  }

  /** Registers events written in a transaction not yet committed, which this node means to publish itself. */
  claim(events: readonly PendingEvent[]): void {
    for (const event of events) {
      let settle: (published: boolean) => void = () => undefined;
      const settled = new Promise<boolean>((resolve) => {
        settle = resolve;
      });
      const claim: Claim = { conversationId: eventConversationId(event.event), committed: false, settled, published: undefined, settle: (published) => {
        claim.published ??= published;
        settle(published);
      } };
      this.claims.set(event.id, claim);
    }
  }

  /** The claiming transaction rolled back: its rows never existed. */
  abandon(events: readonly PendingEvent[]): void {
    for (const event of events) {
      this.claims.get(event.id)?.settle(false);
      this.claims.delete(event.id);
    }
  }

  /**
   * Publishes a committed batch's claimed events from memory, after this node's earlier events of the same
   * conversations (`unpublished`: the ids its transaction found unpublished once it held the conversation locks).
   * Any of those not this node's, or not published after all, and the batch is left to the sweep instead.
   */
  publishCommitted(events: readonly PendingEvent[], unpublished: readonly number[]): void {
    if (events.length === 0) return;
    for (const event of events) {
      const claim = this.claims.get(event.id);
      if (claim) claim.committed = true;
    }
    const earlier: Promise<boolean>[] = [];
    for (const id of unpublished) {
      const claim = this.claims.get(id);
      if (claim) earlier.push(claim.settled);
      else if (!this.recentlyMarked.some((generation) => generation.has(id))) {
        this.leaveToSweep(events);
        return;
      }
    }
    if (this.closed) {
      this.leaveToSweep(events);
      return;
    }
    const work = this.publishAfter(earlier, events).finally(() => this.inMemory.delete(work));
    this.inMemory.add(work);
  }

  private async publishAfter(earlier: readonly Promise<boolean>[], events: readonly PendingEvent[]): Promise<void> {
    if (!(await Promise.all(earlier)).every(Boolean)) {
      this.leaveToSweep(events);
      return;
    }
    try {
      const result = await this.options.publisher.publish(events.map(publishable));
      this.published.inc(publishedCount(result, events));
    } catch (error) {
      this.failures.inc();
      this.options.logger.warn({ err: error }, "publishing a batch from memory failed; the sweep will publish it");
      this.leaveToSweep(events);
      return;
    }
    this.fromMemory.inc({ result: "direct" });
    for (const event of events) {
      this.claims.get(event.id)?.settle(true);
      this.toMark.push(event.id);
    }
    this.scheduleMark();
    this.notifyPublished(events);
  }

  private leaveToSweep(events: readonly PendingEvent[]): void {
    this.fromMemory.inc({ result: "swept" });
    for (const event of events) {
      this.claims.get(event.id)?.settle(false);
      this.claims.delete(event.id);
    }
    this.sweepAfterClaims = false;
    this.kick();
  }

  private scheduleMark(): void {
    if (this.markTimer || this.marking) return;
    this.markTimer = setTimeout(() => {
      this.markTimer = undefined;
      this.marking = this.markPublished().finally(() => {
        this.marking = undefined;
        if (this.toMark.length > 0) this.scheduleMark();
      });
    }, MARK_DELAY_MS);
    this.markTimer.unref();
  }

  /** One UPDATE for every event published from memory since the last one. */
  private async markPublished(): Promise<void> {
    const ids = this.toMark;
    this.toMark = [];
    if (ids.length === 0) return;
    try {
      await this.options.outbox.deletePublishedLazily(ids);
    } catch (error) {
      // Still in the table: the sweep publishes them again (no-ops) and deletes them.
      this.options.logger.warn({ err: error }, "deleting published outbox rows failed; the sweep will delete them");
    }
    const recent = this.recentlyMarked[0];
    for (const id of ids) {
      this.claims.delete(id);
      recent?.add(id);
    }
    this.kickIfSweepWaited();
  }

  /**
   * The conversations whose committed events this node is publishing from memory (or has published and not yet
   * deleted), and the ids of all its claims. A claim of a transaction still open does not count: its rows are not
   * visible, and excluding its conversation would hold back other writers' events there for nothing.
   */
  private claimedConversations(): { conversations: string[]; ids: number[] } {
    const conversations = new Set<string>();
    for (const claim of this.claims.values()) if (claim.committed) conversations.add(claim.conversationId);
    return { conversations: [...conversations], ids: [...this.claims.keys()] };
  }

  private kickIfSweepWaited(): void {
    if (!this.sweepAfterClaims) return;
    this.sweepAfterClaims = false;
    this.kick();
  }

  /**
   * Waits for the publishes from memory under way and the marks they left; with `untilIdle`, also for those that
   * start meanwhile (shutdown, flush). A sweep waits only for those under way when it starts, so steady sends never
   * hold it up.
   */
  private async settleInMemory(untilIdle = true): Promise<void> {
    do await Promise.all([...this.inMemory]);
    while (untilIdle && this.inMemory.size > 0);
    if (this.markTimer) {
      clearTimeout(this.markTimer);
      this.markTimer = undefined;
    }
    while (this.marking) await this.marking;
    if (this.toMark.length > 0) await this.markPublished();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const outcome = await this.pass();
        if (outcome === "busy") this.scheduleRetry();
        else if (outcome === "more") this.again = true;
      } catch (error) {
        this.failures.inc();
        this.options.logger.warn({ err: error }, "outbox relay pass failed; will retry");
        return;
      }
    } while (this.again && !this.closed);
  }

  private scheduleRetry(): void {
    // Another node holds a partition's lock: it will most likely publish our rows, but make sure.
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, RETRY_WHILE_BUSY_MS);
    this.retry.unref();
  }

  private async pass(): Promise<"busy" | "more" | "done"> {
    // This node's own publishes first: the sweep would otherwise publish them again (harmless, but wasted).
    await this.settleInMemory(false);
    const count = this.options.partitions ?? PARTITIONS;
    // Only partitions with a backlog, from a random one on: nodes sweeping at once mostly start on different ones.
    const pending = await this.options.outbox.pendingPartitions(count);
    const start = Math.floor(Math.random() * pending.length);
    const queue = pending.map((_, i) => pending[(start + i) % pending.length] ?? 0);
    const outcomes: ("busy" | "more" | "done")[] = [];
    const sweeper = async () => {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) outcomes.push(await this.sweep({ index, count }));
    };
    await Promise.all(Array.from({ length: Math.min(PARTITIONS_IN_FLIGHT, count) }, sweeper));
    return outcomes.includes("more") ? "more" : outcomes.includes("busy") ? "busy" : "done";
  }

  /** Publishes and deletes the oldest unpublished events of one partition, unless another node holds it. */
  private async sweep(partition: RelayPartition): Promise<"busy" | "more" | "done"> {
    const { database, outbox, publisher, clock } = this.options;
    let published: readonly PendingEvent[] = [];
    const outcome = await database.db.transaction(async (tx) => {
      // Committed without waiting for the WAL flush: a mark lost in a crash only republishes the events, and the
      // publisher's per-event marker turns that into a no-op. Saves an fsync per pass that sends would queue behind.
      const [lock] = await tx.execute<{ locked: boolean }>(
        sql`SELECT pg_try_advisory_xact_lock(${RELAY_LOCK}, ${partition.index}) AS locked, set_config('synchronous_commit', 'off', true) AS commit_mode`,
      );
      if (!lock?.locked) return "busy";
      // Conversations this node is publishing from memory are left alone: their rows would be published twice (a
      // no-op in Redis, but a script call each) and their lazy deletion would wait on this transaction's row locks.
      // Skipping a whole conversation keeps its order: an event after a claimed one waits until the claims settle.
      const claimed = this.claimedConversations();
      const [{ events, invalidIds }, waiting] = await Promise.all([
        outbox.pending(tx, BATCH, partition, claimed.conversations),
        outbox.hasUnclaimed(tx, claimed.conversations, claimed.ids),
      ]);
      // Another writer's event waits behind this node's claims: sweep again once they are deleted.
      if (waiting) this.sweepAfterClaims = true;
      if (invalidIds.length > 0) {
        // Written by a different version or by hand: it can never be delivered, so it must not block the queue.
        this.options.logger.error({ ids: invalidIds }, "outbox rows with unparseable events skipped");
        await outbox.markPublished(tx, invalidIds, clock.now());
      }
      if (events.length === 0) return invalidIds.length === BATCH ? "more" : "done";
      // Deleted while Redis publishes (one round trip less): a failed publish throws and rolls the deletion back.
      const [result] = await Promise.all([
        publisher.publish(events.map(publishable)),
        outbox.deletePublished(
          tx,
          events.map((e) => e.id),
        ),
      ]);
      this.published.inc(publishedCount(result, events));
      published = events;
      return events.length + invalidIds.length === BATCH ? "more" : "done";
    });
    this.notifyPublished(published);
    return outcome;
  }

  /** Runs the hook without waiting for it: a slow or failing hook never holds up publishing. */
  private notifyPublished(events: readonly PendingEvent[]): void {
    const hook = this.options.onPublished;
    if (!hook || events.length === 0) return;
    Promise.resolve()
      .then(() => hook(events))
      .catch((error: unknown) => {
        this.options.logger.warn({ err: error }, "onPublished hook failed; the events themselves were published");
      });
  }

  private async prune(): Promise<void> {
    try {
      const before = new Date(this.options.clock.now().getTime() - (this.options.retentionMs ?? 3_600_000));
      await this.options.outbox.prunePublished(before);
    } catch (error) {
      this.options.logger.warn({ err: error }, "outbox prune failed");
    }
  }

  /** One last pass regardless of `close()`, used on shutdown. */
  async flushOnce(): Promise<void> {
    await this.pass();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.settleInMemory();
    if (this.timer) clearInterval(this.timer);
    if (this.retry) clearTimeout(this.retry);
    this.timer = undefined;
    this.retry = undefined;
    while (this.running) await this.running;
  }
}
