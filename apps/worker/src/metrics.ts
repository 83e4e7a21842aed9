import { Counter, Gauge, type Registry } from "prom-client";

/** The states whose sizes `parley_queue_depth` reports. */
export const DEPTH_STATES = ["waiting", "delayed", "active", "failed"] as const;

export interface QueueCounts {
  readonly name: string;
  counts(): Promise<Partial<Record<(typeof DEPTH_STATES)[number], number>>>;
}

export interface WorkerMetrics {
  readonly jobsCompleted: Counter<"queue">;
  /** Jobs given up after their last attempt (they stay in the failed set). */
  readonly jobsFailed: Counter<"queue">;
  /** Attempts that failed and will be retried. */
  readonly jobRetries: Counter<"queue">;
  readonly emailsSent: Counter;
  readonly conversationsArchived: Counter;
  /** Messages turned into tombstones by the MESSAGE_RETENTION purge, by storage (hot, archived). */
  readonly messagesPurged: Counter<"storage">;
}

/** How long a scrape waits for a queue's counts (BullMQ's connection waits for Redis forever). */
const COUNTS_TIMEOUT_MS = 2_000;

async function countsWithin(queue: QueueCounts, timeoutMs: number): Promise<Awaited<ReturnType<QueueCounts["counts"]>> | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      resolve(undefined);
    }, timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([queue.counts(), deadline]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** The worker's metrics on its registry; queue depth is read from Redis at scrape time. */
export function createWorkerMetrics(registry: Registry, queues: readonly QueueCounts[]): WorkerMetrics {
  new Gauge({
    name: "parley_queue_depth",
    help: "Jobs per queue and state (waiting, delayed, active, failed), read from Redis at scrape time.",
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      const all = await Promise.all(queues.map(async (queue) => ({ name: queue.name, counts: await countsWithin(queue, COUNTS_TIMEOUT_MS) })));
      for (const { name, counts } of all) {
        for (const state of DEPTH_STATES) {
          // Unknown while Redis is away: the series is left out rather than stale, and the rest of the scrape answers.
          if (counts === undefined) this.remove({ queue: name, state });
          else this.set({ queue: name, state }, counts[state] ?? 0);
        }
      }
    },
  });
  const metrics: WorkerMetrics = {
    jobsCompleted: new Counter({
      name: "parley_jobs_completed_total",
      help: "Jobs completed, per queue.",
      labelNames: ["queue"],
      registers: [registry],
    }),
    jobsFailed: new Counter({
      name: "parley_jobs_failed_total",
      help: "Jobs that failed their last attempt and were kept in the failed set, per queue.",
      labelNames: ["queue"],
      registers: [registry],
    }),
    jobRetries: new Counter({
      name: "parley_job_retries_total",
      help: "Job attempts that failed and were scheduled for a retry, per queue.",
      labelNames: ["queue"],
      registers: [registry],
    }),
    messagesPurged: new Counter({
      name: "parley_messages_purged_total",
      help: "Messages whose content the MESSAGE_RETENTION purge removed (tombstones kept), by storage.",
      labelNames: ["storage"],
      registers: [registry],
    }),
    emailsSent: new Counter({
      name: "parley_emails_sent_total",
      help: "Offline notification e-mails accepted by the SMTP server.",
      registers: [registry],
    }),
    conversationsArchived: new Counter({
      name: "parley_conversations_archived_total",
      help: "Conversations archived for being idle longer than ARCHIVE_AFTER.",
      registers: [registry],
    }),
  };
  // Every queue's series exist from the start (at 0), so rates and alerts work before the first job.
  for (const { name } of queues) {
    for (const counter of [metrics.jobsCompleted, metrics.jobsFailed, metrics.jobRetries]) counter.labels({ queue: name }).inc(0);
  }
  return metrics;
}
