import { comparePos, staticHeaderOf, type LivePayload } from "@parley/bus";
import type { ConversationEvent } from "@parley/protocol";

/**
 * A conversation event as it leaves a user's stream: its position, its commit time (ms) when it arrived live, what
 * ordering needs to know of it, and the client frame serialised once (live: by the publisher) for every socket.
 */
export interface DeliverableEvent {
  readonly pos: string;
  readonly ts?: number | undefined;
  readonly type: string;
  readonly conversationId?: string | undefined;
  /** A new message's seq: history replay (`subscribe {since_seq}`) covers those. */
  readonly seq?: number | undefined;
  /** `{...event, "pos"}` as JSON text. */
  readonly frame: string;
}

/** A replayed stream entry, serialised here once (as the publisher does for live ones). */
export function deliverableOf({ pos, event }: { pos: string; event: ConversationEvent }): DeliverableEvent {
  const { t, c, s } = staticHeaderOf(event);
  return { pos, type: t, conversationId: c, seq: s, frame: JSON.stringify({ ...event, pos }) };
}

/** A live payload as it came from the user's channel. */
export function deliverableOfLive({ header, frame }: LivePayload): DeliverableEvent {
  return { pos: header.pos, ts: header.ts, type: header.t, conversationId: header.c, seq: header.s, frame };
}

export interface EventGateOptions {
  /** Writes one event to the socket; false when the socket is gone (stop flushing). */
  readonly emit: (event: DeliverableEvent) => boolean;
  /** Waits until the socket's buffer has room; false when the socket is gone. */
  readonly writable: () => Promise<boolean>;
  /** Too many events piled up while held: the socket is closed rather than events dropped. */
  readonly overflow: () => void;
  readonly maxHeld: number;
  /** Whether writes must wait for room before the next one. */
  readonly congested: () => boolean;
}

/**
 * Orders a socket's events: while a replay runs (resume, subscribe) live events are held, then written after it,
 * skipping what the replay already wrote. Both paths write in stream order (the publisher appends and publishes
 * in one script; a replay reads ascending), so what went out is a run of the stream kept as two positions, not a
 * set: a replay never doubles an event that went out live, in constant memory per socket.
 */
export class EventGate {
  /** Starts held: nothing live goes out before `connected`, nor before a first `resume` had its chance. */
  private holds = 1;
  private initialReleased = false;
  private held: DeliverableEvent[] = [];
  private heldStart = 0;
  private skips: ((event: DeliverableEvent) => boolean)[] = [];
  /** Every stream entry in [lo, hi] went out (or was left out on purpose): anything inside is a copy. */
  private run: { lo: string; hi: string } | undefined;
  /**
   * A replay that started below `run` (a `resume` after live events flowed): what it wrote so far, ascending. It
   * joins `run` once it reaches it; forgotten when the next replay starts.
   */
  private below: { lo: string; hi: string } | undefined;
  private newest: string | undefined;
  /** Per conversation, the newest seq this socket got from history (`subscribe {since_seq}`). */
  private covered: Map<string, number> | undefined; // created by the first history replay: most sockets never have one
  private static readonly rememberedConversations = 1_000;

  constructor(private readonly options: EventGateOptions) {}

  /** A live event: written now, or queued behind a running replay. */
  offer(event: DeliverableEvent): void {
    if (this.isCovered(event)) return;
    if (this.holds > 0) {
      if (this.held.length - this.heldStart >= this.options.maxHeld) {
        this.options.overflow();
        return;
      }
      this.held.push(event);
      return;
    }
    this.write(event);
  }

  /** Writes an event unless it was written before; false when the socket is gone. */
  write(event: DeliverableEvent): boolean {
    if (this.seen(event.pos) || this.isCovered(event)) return true;
    if (!this.options.emit(event)) return false;
    this.remember(event.pos);
    if (this.newest === undefined || comparePos(event.pos, this.newest) > 0) this.newest = event.pos;
    return true;
  }

  /** Whether `pos` went out already; a replay below the run that reaches it joins it (it read everything between). */
  private seen(pos: string): boolean {
    const { run, below } = this;
    if (below && comparePos(pos, below.lo) >= 0 && comparePos(pos, below.hi) <= 0) return true;
    if (!run || comparePos(pos, run.lo) < 0 || comparePos(pos, run.hi) > 0) return false;
    if (below) {
      this.run = { lo: below.lo, hi: run.hi };
      this.below = undefined;
    }
    return true;
  }

  private remember(pos: string): void {
    const { run, below } = this;
    if (!run) {
      this.run = { lo: pos, hi: pos };
    } else if (comparePos(pos, run.hi) > 0) {
      // Writers go in stream order, so nothing between the run's end and `pos` was left behind.
      this.run = { lo: below?.lo ?? run.lo, hi: pos };
      this.below = undefined;
    } else if (below && comparePos(pos, below.hi) > 0) {
      this.below = { lo: below.lo, hi: pos };
    } else {
      this.below = { lo: pos, hi: pos };
    }
  }

  /** Where the socket's stream stood when it connected (the `pos` of `connected`). */
  startAt(pos: string): void {
    this.newest ??= pos;
  }

  /** The newest position written to the socket: where a catch-up replay starts. */
  get lastPos(): string | undefined {
    return this.newest;
  }

  /** Runs a replay with live events held; afterwards held events are written, minus those `skip` says were replayed. */
  async hold<T>(work: () => Promise<T>, skip?: (event: DeliverableEvent) => boolean): Promise<T> {
    this.holds += 1;
    // A replay starts from its own `since`: it is contiguous with what it writes, not with an earlier replay.
    this.below = undefined;
    try {
      return await work();
    } finally {
      if (skip) this.skips.push(skip);
      this.release();
    }
  }

  /**
   * Messages of a conversation up to `seq` went out from history: their `new_message` events are left out from
   * now on, also when the relay publishes one only after the replay ended (seqs are unique, so it is a copy).
   */
  cover(conversationId: string, seq: number): void {
    const covered = (this.covered ??= new Map<string, number>());
    const previous = covered.get(conversationId) ?? 0;
    covered.delete(conversationId);
    covered.set(conversationId, Math.max(previous, seq));
    if (covered.size > EventGate.rememberedConversations) {
      const oldest = covered.keys().next();
      if (oldest.done !== true) covered.delete(oldest.value);
    }
  }

  private isCovered({ type, conversationId, seq }: DeliverableEvent): boolean {
    return type === "new_message" && seq !== undefined && conversationId !== undefined && seq <= (this.covered?.get(conversationId) ?? 0);
  }

  /** Holds live events until the returned function is called (once): for work that must wait its turn first. */
  suspend(): () => void {
    this.holds += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  /** Ends the hold every socket starts with (after its first command, or a short delay). */
  releaseInitial(): void {
    if (this.initialReleased) return;
    this.initialReleased = true;
    this.release();
  }

  private release(): void {
    this.holds -= 1;
    if (this.holds > 0) return;
    if (this.held.length === this.heldStart) {
      this.resetHeld();
      return;
    }
    // Keep holding while the backlog is written, paced by the socket's buffer.
    this.holds = 1;
    void this.flush().then(() => {
      this.release();
    });
  }

  private async flush(): Promise<void> {
    while (this.heldStart < this.held.length) {
      if (this.holds > 1) return; // another replay started: its release continues the flush
      const event = this.held[this.heldStart];
      this.heldStart += 1;
      if (event === undefined || this.skips.some((skip) => skip(event))) continue;
      if (this.options.congested() && !(await this.options.writable())) {
        this.resetHeld();
        return;
      }
      if (this.holds > 1) {
        // A replay started while the buffer drained: it goes first, and this event waits for its release.
        this.heldStart -= 1;
        return;
      }
      if (!this.write(event)) {
        this.resetHeld();
        return;
      }
      if (this.heldStart >= 1024) {
        this.held = this.held.slice(this.heldStart);
        this.heldStart = 0;
      }
    }
  }

  private resetHeld(): void {
    this.held = [];
    this.heldStart = 0;
    this.skips = [];
  }
}
