/** A timer of a test clock: due at `at` on the clock's time; `id` keeps timers due together in the order set. */
interface PendingTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** The longest delay one Node.js timer honours; a clock's own wake-up waits in steps of at most this. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * What the test clocks share (both fit @parley/config's `Clock`): timers due on the clock's own time, and moves.
 *
 * - Moving the clock (`advance`, `setTo`) runs every timer due at or before the new time before it returns, in due
 *   order (then in the order they were set), each with the clock at its own due time; a timer they set that falls
 *   due by the new time runs in the same move.
 * - A timer set for now or a moment already past never runs inside `setTimeout`: it runs on a real timer of 0 ms,
 *   or at the next move of the clock if that comes first.
 * - Moving the clock back fires nothing; timers stay due at the time they were set for.
 * - Moving the clock from inside one of its timers throws: the move under way owns the time.
 */
abstract class MovableClock {
  /** Sorted by due time, then by id. */
  private timers: PendingTimer[] = [];
  private nextId = 0;
  private wake: NodeJS.Timeout | undefined;
  private firing = false;

  /** The clock's time in milliseconds. */
  protected abstract read(): number;
  /** Makes `ms` the clock's time. */
  protected abstract write(ms: number): void;
  /** How many real milliseconds until the clock gets to `at` by itself; undefined when only a move gets it there. */
  protected abstract realDelayTo(at: number): number | undefined;

  now(): Date {
    return new Date(this.read());
  }

  setTimeout(fn: () => void, ms: number): { clear(): void } {
    const timer: PendingTimer = { id: ++this.nextId, at: this.read() + Math.max(0, ms), fn };
    const later = this.timers.findIndex((other) => other.at > timer.at);
    this.timers.splice(later === -1 ? this.timers.length : later, 0, timer);
    this.schedule();
    return {
      clear: () => {
        this.timers = this.timers.filter((other) => other !== timer);
        this.schedule();
      },
    };
  }

  /** The timers still waiting: how far from now each is due (0 or less: due already), soonest first. */
  pending(): number[] {
    const now = this.read();
    return this.timers.map((timer) => timer.at - now);
  }

  /** Moves the time forward by `ms`, running the timers that fall due. */
  advance(ms: number): void {
    this.moveTo(this.read() + ms);
  }

  /** Makes the time `at` now, running the timers due by then. */
  setTo(at: number | Date): void {
    this.moveTo(typeof at === "number" ? at : at.getTime());
  }

  protected moveTo(target: number): void {
    if (this.firing) throw new Error("a test clock cannot be moved from inside one of its timers");
    try {
      this.runDue(target);
    } finally {
      this.write(target);
      this.schedule();
    }
  }

  /** Runs the timers due by `until`, soonest first, moving the time forward to each one's due time. */
  private runDue(until: number): void {
    this.firing = true;
    try {
      for (let next = this.timers[0]; next !== undefined && next.at <= until; next = this.timers[0]) {
        this.timers.shift();
        if (next.at > this.read()) this.write(next.at);
        next.fn();
      }
    } finally {
      this.firing = false;
    }
  }

  /** One real timer for the soonest timer, when the clock gets to it by itself (or it is due already). */
  private schedule(): void {
    clearTimeout(this.wake);
    this.wake = undefined;
    const first = this.timers[0];
    const delay = first === undefined ? undefined : this.realDelayTo(first.at);
    if (delay === undefined) return;
    this.wake = setTimeout(
      () => {
        this.wake = undefined;
        try {
          this.runDue(this.read());
        } finally {
          this.schedule();
        }
      },
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    );
    this.wake.unref();
  }
}

/**
 * A clock for the code under test that a test moves instead of waiting for time to pass: the real time plus an
 * offset. Its timers fire when the real time gets to them or at once when the test moves the clock past them,
 * whichever comes first: code nobody moves the clock for behaves as on the system clock.
 */
export class ShiftedClock extends MovableClock {
  private offsetMs = 0;

  /** Back to the real time (running the timers due by then, should that be forward). */
  reset(): void {
    this.moveTo(Date.now());
  }

  protected read(): number {
    return Date.now() + this.offsetMs;
  }

  protected write(ms: number): void {
    this.offsetMs = ms - Date.now();
  }

  protected realDelayTo(at: number): number {
    return at - this.read();
  }
}

/**
 * A clock that stands still until the test moves it (rows written at `now()` compare equal to it); its timers fire
 * only when a move gets to them (or, set for a moment already past, on a real timer of 0 ms).
 */
export class ManualClock extends MovableClock {
  private time: number;

  constructor(start: number | Date = Date.now()) {
    super();
    this.time = typeof start === "number" ? start : start.getTime();
  }

  protected read(): number {
    return this.time;
  }

  protected write(ms: number): void {
    this.time = ms;
  }

  protected realDelayTo(at: number): number | undefined {
    return at <= this.read() ? 0 : undefined;
  }
}
