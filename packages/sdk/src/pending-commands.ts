import type { AckedCommandType } from "@parley/protocol";
import type { Clock, TimerHandle } from "./clock";
import { ParleyRequestError, ParleyTimeoutError } from "./errors";

/** A command given to the connection, until its answer (or its failure) settles it. */
export interface Pending {
  readonly order: number;
  readonly type: AckedCommandType | "ping";
  readonly fields: Record<string, unknown>;
  readonly resolve: (data: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timeoutMs: number;
  readonly onDisconnect: "retry" | "reject";
  /** Connection-scoped commands (auth, resume, ping) skip the queue and the in-flight bound. */
  readonly urgent: boolean;
  id?: string;
  timer?: TimerHandle;
}

/** Commands waiting to be written, in the order they were given, and written ones waiting for their answer, by id. */
export class PendingCommands {
  private readonly queue: Pending[] = [];
  private readonly inflight = new Map<string, Pending>();
  private nextId = 0;
  private order = 0;

  constructor(private readonly clock: Clock) {}

  /** Waiting to be written plus written and not yet answered. */
  get size(): number {
    return this.queue.length + this.inflight.size;
  }

  /** The place of a new command in the order they were given. */
  nextOrder(): number {
    return this.order++;
  }

  enqueue(pending: Pending): void {
    this.queue.push(pending);
  }

  /** Back to the front of the queue: it was about to be written when its socket went. */
  putBack(pending: Pending): void {
    this.queue.unshift(pending);
  }

  /** The oldest queued command, when fewer than `maxInFlight` queued ones wait for an answer. */
  takeNext(maxInFlight: number): Pending | undefined {
    if (this.queue.length === 0 || this.queuedInflight() >= maxInFlight) return undefined;
    return this.queue.shift();
  }

  /** Records a command as written: gives it its id and starts its answer deadline (`timedOut` runs after it rejected). */
  written(pending: Pending, timedOut: () => void): string {
    const id = `c${++this.nextId}`;
    pending.id = id;
    this.inflight.set(id, pending);
    pending.timer = this.clock.setTimeout(() => {
      this.settle(pending);
      pending.reject(new ParleyTimeoutError(pending.type, pending.timeoutMs));
      timedOut();
    }, pending.timeoutMs);
    return id;
  }

  /** The written command an answer names, taken out of the in-flight set (undefined when none waits under that id). */
  answered(id: string | undefined): Pending | undefined {
    const pending = id === undefined ? undefined : this.inflight.get(id);
    if (pending !== undefined) this.settle(pending);
    return pending;
  }

  /** The socket went with the answers: retry-able commands go back to the front, in order; the others reject. */
  socketLost(): void {
    const retry: Pending[] = [];
    for (const pending of this.inflight.values()) {
      this.settle(pending);
      if (pending.onDisconnect === "retry" && !pending.urgent) retry.push(pending);
      else pending.reject(new ParleyRequestError("unavailable", "The connection was lost before the answer."));
    }
    this.inflight.clear();
    this.queue.unshift(...retry.sort((a, b) => a.order - b.order));
  }

  /** Rejects every command, written or not, with `error`. */
  rejectAll(error: Error): void {
    for (const pending of [...this.inflight.values(), ...this.queue]) {
      this.settle(pending);
      pending.reject(error);
    }
    this.inflight.clear();
    this.queue.length = 0;
  }

  private settle(pending: Pending): void {
    if (pending.id !== undefined) this.inflight.delete(pending.id);
    if (pending.timer !== undefined) this.clock.clearTimeout(pending.timer);
  }

  private queuedInflight(): number {
    let count = 0;
    for (const pending of this.inflight.values()) if (!pending.urgent) count += 1;
    return count;
  }
}
