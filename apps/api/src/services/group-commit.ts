import { Histogram, type Registry } from "prom-client";

/** Each item's outcome of a batch: its value, or the error that refuses it alone. */
export type ItemOutcome<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

export interface GroupCommitOptions<T, R> {
  /**
   * Writes a batch in one transaction and answers each item (same order). Throwing fails the whole batch: its items
   * are then run again one by one, so one poison item cannot fail its neighbours.
   */
  readonly run: (items: readonly T[]) => Promise<ItemOutcome<R>[]>;
  /** Two items with the same key never share a batch (the later one waits for the next). */
  readonly keyOf: (item: T) => string;
  /**
   * What an item's transaction locks (a send: its conversation row). An item whose lock key a batch in flight holds
   * waits for a later batch instead of joining one that would only wait on those row locks: batches in flight at
   * once then never block each other.
   */
  readonly lockKeyOf?: (item: T) => string;
  /** Items per batch at most. */
  readonly maxBatch: number;
  /** How long the first item of a batch waits for company when nothing is in flight (0: only what queued meanwhile). */
  readonly windowMs: number;
  /** Batches written at the same time (each on its own connection). */
  readonly maxInFlight: number;
  readonly registry: Registry;
}

interface Waiting<T, R> {
  readonly item: T;
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: items that arrive while batches are being written (or within `windowMs` of the first) are written
 * together by one transaction, so the commit's WAL flush and the round trips are paid per batch, not per item.
 */
export class GroupCommit<T, R> {
  private queue: Waiting<T, R>[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private readonly sizes: Histogram;
  private readonly idle = new Set<() => void>();
  /** Lock keys of the batches in flight, with how many of them hold each. */
  private readonly held = new Map<string, number>();

  constructor(private readonly options: GroupCommitOptions<T, R>) {
    const name = "parley_send_batch_size";
    const existing = options.registry.getSingleMetric(name);
    this.sizes =
      existing instanceof Histogram
        ? existing
        : new Histogram({
            name,
            help: "Sends written by one group-commit transaction.",
            buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
            registers: [options.registry],
          });
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or being written (shutdown). */
  async drained(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight > 0) {
      await new Promise<void>((resolve) => this.idle.add(resolve));
    }
  }

  /** `waited`: the queued items already waited for a batch in flight, so they go without another window. */
  private schedule(waited = false): void {
    if (this.inFlight >= this.options.maxInFlight || this.scheduled || this.timer) return;
    if (!waited && this.inFlight === 0 && this.options.windowMs > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.dispatch();
      }, this.options.windowMs);
      return;
    }
    // Whatever else arrives in this turn of the event loop joins the batch.
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.take();
      // Everything queued waits on a batch in flight: it goes when that one is done.
      if (batch.length === 0) return;
      const locks = this.hold(batch);
      this.inFlight += 1;
      void this.write(batch).finally(() => {
        this.release(locks);
        this.inFlight -= 1;
        if (this.queue.length > 0) this.schedule(true);
        else if (this.inFlight === 0) {
          for (const wake of this.idle) wake();
          this.idle.clear();
        }
      });
    }
  }

  /**
   * The oldest items up to maxBatch, skipping any whose key is already in the batch or whose lock key a batch in
   * flight holds (they keep their place).
   */
  private take(): Waiting<T, R>[] {
    const batch: Waiting<T, R>[] = [];
    const rest: Waiting<T, R>[] = [];
    const keys = new Set<string>();
    const lockKeyOf = this.options.lockKeyOf;
    for (const waiting of this.queue) {
      const key = this.options.keyOf(waiting.item);
      const free = lockKeyOf === undefined || !this.held.has(lockKeyOf(waiting.item));
      if (batch.length < this.options.maxBatch && free && !keys.has(key)) {
        keys.add(key);
        batch.push(waiting);
      } else rest.push(waiting);
    }
    this.queue = rest;
    return batch;
  }

  private hold(batch: readonly Waiting<T, R>[]): string[] {
    const lockKeyOf = this.options.lockKeyOf;
    if (lockKeyOf === undefined) return [];
    const locks = [...new Set(batch.map((waiting) => lockKeyOf(waiting.item)))];
    for (const lock of locks) this.held.set(lock, (this.held.get(lock) ?? 0) + 1);
    return locks;
  }

  private release(locks: readonly string[]): void {
    for (const lock of locks) {
      const count = (this.held.get(lock) ?? 1) - 1;
      if (count > 0) this.held.set(lock, count);
      else this.held.delete(lock);
    }
  }

  private async write(batch: readonly Waiting<T, R>[]): Promise<void> {
    this.sizes.observe(batch.length);
    let outcomes: ItemOutcome<R>[];
    try {
      outcomes = await this.options.run(batch.map((waiting) => waiting.item));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      for (const waiting of batch) await this.write([waiting]);
      return;
    }
    batch.forEach((waiting, index) => {
      const outcome = outcomes[index];
      if (!outcome) waiting.reject(new Error("group commit: no outcome for an item"));
      else if (outcome.ok) waiting.resolve(outcome.value);
      else waiting.reject(outcome.error);
    });
  }
}
