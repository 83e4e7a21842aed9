import type { Clock, TimerHandle } from "./clock";

export interface DeliveryReceiptOptions {
  /** Sends one `mark_delivered`; failures are reported, the next batch carries the seq again. */
  readonly send: (conversationId: string, upToSeq: number) => Promise<unknown>;
  readonly clock: Clock;
  /** Time between two batches. */
  readonly intervalMs: number;
  /** Conversations acknowledged per batch, at most (the rest wait for the next one). */
  readonly maxPerBatch: number;
}

/**
 * Acknowledges received messages with `mark_delivered`, batched: per conversation only the highest seq, at most
 * `maxPerBatch` commands every `intervalMs` (a burst of messages costs a few commands, not one each).
 */
export class DeliveryReceipts {
  private readonly due = new Map<string, number>();
  private readonly acknowledged = new Map<string, number>();
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly options: DeliveryReceiptOptions) {}

  /** A message of someone else with this seq arrived. */
  received(conversationId: string, seq: number): void {
    if (this.stopped) return;
    if (seq <= (this.acknowledged.get(conversationId) ?? 0) || seq <= (this.due.get(conversationId) ?? 0)) return;
    this.due.set(conversationId, seq);
    this.timer ??= this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.options.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    let sent = 0;
    for (const [conversationId, seq] of this.due) {
      if (sent >= this.options.maxPerBatch) break;
      sent += 1;
      this.due.delete(conversationId);
      this.acknowledged.set(conversationId, seq);
      this.options.send(conversationId, seq).catch(() => {
        // Not acknowledged after all: carried again by the next batch, unless a later seq already is.
        if ((this.acknowledged.get(conversationId) ?? 0) <= seq) this.acknowledged.delete(conversationId);
        this.received(conversationId, seq);
      });
    }
    if (this.due.size > 0 && !this.stopped) {
      this.timer = this.options.clock.setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.options.intervalMs);
    }
  }
}
