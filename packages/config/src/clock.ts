/** A timer set on a {@link Clock}; `clear()` stops it (harmless once it ran or was cleared). */
export interface ClockTimer {
  clear(): void;
}

/**
 * Where every server process reads the time and sets the timers that wait for it (a token's expiry, a typing
 * indicator's end, a presence grace period): injected so tests move the time instead of waiting for it.
 */
export interface Clock {
  now(): Date;
  /** Runs `fn` once, `ms` from now as this clock counts; the timer never keeps the process alive. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
}

/** The longest delay one Node.js timer honours (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** A real, unref'd timer; a delay past Node's limit waits in steps, so it never fires early. */
class RealTimer implements ClockTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly fn: () => void,
    ms: number,
  ) {
    this.arm(ms);
  }

  clear(): void {
    clearTimeout(this.timer);
  }

  private arm(left: number): void {
    this.timer = setTimeout(() => (left > MAX_TIMER_MS ? this.arm(left - MAX_TIMER_MS) : this.fn()), Math.max(0, Math.min(left, MAX_TIMER_MS)));
    this.timer.unref();
  }
}

export const systemClock: Clock = { now: () => new Date(), setTimeout: (fn, ms) => new RealTimer(fn, ms) };
