import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createWorkerMetrics } from "../src/metrics";

describe("worker metrics", () => {
  it("still answers a scrape when a queue's counts do not come back (its Redis is away), leaving that queue's depth out", async () => {
    const registry = new Registry();
    const metrics = createWorkerMetrics(registry, [
      // BullMQ's connection never gives up a command (maxRetriesPerRequest null): during an outage it just waits.
      { name: "email", counts: () => new Promise(() => undefined) },
      { name: "archival", counts: () => Promise.resolve({ waiting: 2, delayed: 0, active: 1, failed: 0 }) },
    ]);
    metrics.emailsSent.inc();
    let timer: NodeJS.Timeout | undefined;
    const text = await Promise.race([
      registry.metrics(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the scrape did not answer within 5 s")), 5_000))),
    ]).finally(() => clearTimeout(timer));
    expect(text).toMatch(/parley_emails_sent_total 1/);
    expect(text).toMatch(/parley_queue_depth\{queue="archival",state="waiting"\} 2/);
    expect(text).not.toMatch(/parley_queue_depth\{queue="email"/);
  });

  it("reports a queue's depth again once its counts answer", async () => {
    const registry = new Registry();
    let failing = true;
    createWorkerMetrics(registry, [{ name: "email", counts: () => (failing ? Promise.reject(new Error("Connection is closed.")) : Promise.resolve({ delayed: 3 })) }]);
    expect(await registry.metrics()).not.toMatch(/parley_queue_depth\{queue="email"/);
    failing = false;
    expect(await registry.metrics()).toMatch(/parley_queue_depth\{queue="email",state="delayed"\} 3/);
  });
});
