import type { Database } from "@parley/db";
import type { EventPublisher } from "@parley/bus";
import type { Logger } from "@parley/observability";
import { sql } from "drizzle-orm";
import { Counter, Gauge, type Registry } from "prom-client";
import type { OutboxRepository, PendingEvent } from "../repositories/outbox-repository";
import type { Clock } from "../services/actor";

// One publisher at a time across all API nodes keeps every user's stream in commit order.
const RELAY_LOCK = 0x7061726c; // "parl"
const BATCH = 200;
const RETRY_WHILE_BUSY_MS = 20;

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
  /** Receives each pass's events once published and committed (enqueues e-mail jobs); its failures are only logged. */
  readonly onPublished?: (events: readonly PendingEvent[]) => Promise<void>;
}

/**
 * Publishes outbox rows to Redis: right after each commit (`kick`) and on a periodic sweep, so an
 * event whose publish was interrupted after commit is still delivered.
 */
export class OutboxRelay {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly published: Counter;
  private readonly failures: Counter;

  constructor(private readonly options: OutboxRelayOptions) {
    this.published = new Counter({
      name: "parley_bus_publishes_total",
      help: "Events appended to a user's stream and published on the user's channel (one per recipient).",
      registers: [options.registry],
    });
    this.failures = new Counter({
      name: "parley_bus_publish_failures_total",
      help: "Outbox relay passes that failed to publish to Redis (the events stay in the outbox).",
      registers: [options.registry],
    });
    const outbox = options.outbox;
    new Gauge({
      name: "parley_outbox_backlog",
      help: "Committed events not yet published to Redis.",
      registers: [options.registry],
      async collect() {
        this.set(await outbox.countUnpublished());
      },
    });
  }

  start(): void {
    if (this.timer || this.closed) return;
    let sweeps = 0;
    this.timer = setInterval(() => {
      this.kick();
      if (++sweeps % 600 === 0) void this.prune();
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
    this.kick();
    while (this.running) await this.running;
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
    // Another node holds the lock: it will most likely publish our rows, but make sure.
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, RETRY_WHILE_BUSY_MS);
    this.retry.unref();
  }

  private async pass(): Promise<"busy" | "more" | "done"> {
    const { database, outbox, publisher, clock } = this.options;
    let published: readonly PendingEvent[] = [];
    const outcome = await database.db.transaction(async (tx) => {
      // Committed without waiting for the WAL flush: a mark lost in a crash only republishes the events, and the
      // publisher's per-event marker turns that into a no-op. Saves an fsync per pass that sends would queue behind.
      const [lock] = await tx.execute<{ locked: boolean }>(
        sql`SELECT pg_try_advisory_xact_lock(${RELAY_LOCK}) AS locked, set_config('synchronous_commit', 'off', true) AS commit_mode`,
      );
      if (!lock?.locked) return "busy";
      const { events, invalidIds } = await outbox.pending(tx, BATCH);
      if (invalidIds.length > 0) {
        // Written by a different version or by hand: it can never be delivered, so it must not block the queue.
        this.options.logger.error({ ids: invalidIds }, "outbox rows with unparseable events skipped");
        await outbox.markPublished(tx, invalidIds, clock.now());
      }
      if (events.length === 0) return invalidIds.length === BATCH ? "more" : "done";
      // Marked while Redis publishes (one round trip less): a failed publish throws and rolls the mark back.
      const [result] = await Promise.all([
        publisher.publish(events.map((e) => ({ id: String(e.id), recipients: e.recipients, event: e.event, committedAt: e.createdAt.getTime() }))),
        outbox.markPublished(
          tx,
          events.map((e) => e.id),
          clock.now(),
        ),
      ]);
      let count = 0;
      for (const perUser of result.values()) count += perUser.size;
      this.published.inc(count);
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
    if (this.timer) clearInterval(this.timer);
    if (this.retry) clearTimeout(this.retry);
    this.timer = undefined;
    this.retry = undefined;
    while (this.running) await this.running;
  }
}
