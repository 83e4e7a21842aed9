import { EMAIL_JOB_NAME, emailJobOptions, type EmailJobData } from "@parley/bus";
import type { Database } from "@parley/db";
import type { Logger } from "@parley/observability";
import type { ConversationEvent } from "@parley/protocol";
import type { Queue } from "bullmq";
import { Param, sql } from "drizzle-orm";

/** An event as the outbox relay published it. */
export interface PublishedEvent {
  readonly recipients: readonly string[];
  readonly event: ConversationEvent;
}

export interface EmailSchedulerOptions {
  readonly database: Database;
  /** The worker's e-mail queue (JOB_QUEUES.email under jobQueuePrefix); owned and closed by the caller. */
  readonly queue: Queue;
  /** EMAIL_DELAY: how long a recipient has to come back or read before the e-mail goes. */
  readonly delayMs: number;
  readonly logger: Logger;
  /** How long `close()` waits for enqueues still in flight (Redis may be down). */
  readonly closeTimeoutMs?: number;
}

/** Pairs looked up per query; bounded so a huge group never makes one enormous statement. */
const LOOKUP_CHUNK = 1_000;

/**
 * Enqueues offline e-mail jobs for published `new_message` events: one delayed job per (recipient,
 * conversation), deduplicated in the queue so a burst makes one job. Only recipients who could get a mail are
 * enqueued (an address, notifications on, not muted, still a participant); the worker checks all of it again,
 * with presence and read state, when the job runs.
 */
export class EmailScheduler {
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: EmailSchedulerOptions) {}

  /** Enqueues the jobs of these events; resolves when they are in Redis. */
  schedule(events: readonly PublishedEvent[]): Promise<void> {
    if (this.closed) return Promise.resolve();
    const work = this.enqueue(events);
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => undefined);
    return work;
  }

  private async enqueue(events: readonly PublishedEvent[]): Promise<void> {
    const pairs = new Map<string, EmailJobData>();
    for (const { recipients, event } of events) {
      if (event.type !== "new_message") continue;
      for (const userId of recipients) {
        // The sender has read their own message.
        if (userId === event.message.sender_id) continue;
        pairs.set(`${event.conversation_id}\u0000${userId}`, { user_id: userId, conversation_id: event.conversation_id });
      }
    }
    if (pairs.size === 0) return;
    const wanted = [...pairs.values()];
    const jobs: EmailJobData[] = [];
    for (let i = 0; i < wanted.length; i += LOOKUP_CHUNK) jobs.push(...(await this.eligible(wanted.slice(i, i + LOOKUP_CHUNK))));
    if (jobs.length === 0) return;
    await this.options.queue.addBulk(jobs.map((data) => ({ name: EMAIL_JOB_NAME, data, opts: emailJobOptions(data, this.options.delayMs) })));
  }

  /**
   * The pairs whose recipient has an e-mail address and notifications on, in a conversation they have not muted.
   * Hand-written, with the pairs as two array parameters: one prepared statement whatever their number (it runs
   * after every published batch of sends).
   */
  private async eligible(pairs: readonly EmailJobData[]): Promise<EmailJobData[]> {
    const rows = await this.options.database.db.execute<{ conversation_id: string; user_id: string }>(sql`
      SELECT "p"."conversation_id", "p"."user_id"
      FROM unnest(${new Param(pairs.map((pair) => pair.conversation_id))}::uuid[], ${new Param(pairs.map((pair) => pair.user_id))}::text[]) AS "k"("conversation_id", "user_id")
      JOIN "participants" "p" ON "p"."conversation_id" = "k"."conversation_id" AND "p"."user_id" = "k"."user_id"
      JOIN "users" "u" ON "u"."id" = "p"."user_id"
      WHERE "p"."left_at" IS NULL AND NOT "p"."muted" AND "u"."email" IS NOT NULL AND "u"."email" <> '' AND "u"."email_notifications"`);
    const found = new Set(rows.map((row) => `${row.conversation_id}\u0000${row.user_id}`));
    return pairs.filter((pair) => found.has(`${pair.conversation_id}\u0000${pair.user_id}`));
  }

  /** Stops scheduling and waits (bounded) for enqueues in flight. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.options.logger.warn({ pending: this.inFlight.size }, "e-mail jobs still being enqueued at shutdown were dropped");
        resolve();
      }, this.options.closeTimeoutMs ?? 5_000);
    });
    await Promise.race([Promise.allSettled([...this.inFlight]).then(() => undefined), timeout]);
    clearTimeout(timer);
  }
}
