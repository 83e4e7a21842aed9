import type { PublishableEvent } from "@parley/bus";
import { Counter, Gauge, type Registry } from "prom-client";
import type { OutboxRepository, PendingEvent } from "../repositories/outbox-repository";

/** The outbox relay's metrics: what it published, what failed, how batches were published, and the backlog. */
export function relayMetrics(registry: Registry, outbox: Pick<OutboxRepository, "countUnpublished">): { published: Counter; failures: Counter; fromMemory: Counter } {
  const published = new Counter({
    name: "parley_bus_publishes_total",
    help: "Events appended to a user's stream and published on the user's channel (one per recipient).",
    registers: [registry],
  });
  const failures = new Counter({
    name: "parley_bus_publish_failures_total",
    help: "Outbox relay passes that failed to publish to Redis (the events stay in the outbox).",
    registers: [registry],
  });
  const fromMemory = new Counter({
    name: "parley_outbox_direct_publishes_total",
    help: "Group-commit batches whose events were published from memory right after commit (result=direct) or left to the sweep (result=swept).",
    labelNames: ["result"],
    registers: [registry],
  });
  // Both series exist from the start, so a rate() over them never starts from nothing.
  for (const result of ["direct", "swept"]) fromMemory.inc({ result }, 0);
  new Gauge({
    name: "parley_outbox_backlog",
    help: "Committed events not yet published to Redis.",
    registers: [registry],
    async collect() {
      this.set(await outbox.countUnpublished());
    },
  });
  return { published, failures, fromMemory };
}

/** An outbox row as the publisher takes it (its id is the idempotency key). */
export function publishable(event: PendingEvent): PublishableEvent {
  return { id: String(event.id), recipients: event.recipients, event: event.event, committedAt: event.createdAt.getTime(), ...(event.unread ? { unread: event.unread } : {}) };
}

/** Events appended to a user's stream: one per recipient of each event, plus each unread companion. */
export function publishedCount(result: ReadonlyMap<string, ReadonlyMap<string, string>>, events: readonly PendingEvent[]): number {
  let count = 0;
  for (const perUser of result.values()) count += perUser.size;
  for (const event of events) count += event.unread?.length ?? 0;
  return count;
}
