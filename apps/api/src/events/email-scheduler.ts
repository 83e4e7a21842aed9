import { EMAIL_JOB_NAME, emailJobOptions, type EmailJobData } from "@parley/bus";
import type { Logger } from "@parley/observability";
import type { ConversationEvent } from "@parley/protocol";
import type { Queue } from "bullmq";
import type { EmailRecipientRepository } from "../repositories/email-recipient-repository";

/** An event as the outbox relay published it. */
export interface PublishedEvent {
  readonly recipients: readonly string[];
  readonly event: ConversationEvent;
}

export interface EmailSchedulerOptions {
  readonly recipients: EmailRecipientRepository;
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
    for (let i = 0; i < wanted.length; i += LOOKUP_CHUNK) jobs.push(...(await this.options.recipients.eligible(wanted.slice(i, i + LOOKUP_CHUNK))));
    if (jobs.length === 0) return;
    await this.options.queue.addBulk(jobs.map((data) => ({ name: EMAIL_JOB_NAME, data, opts: emailJobOptions(data, this.options.delayMs) })));
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
