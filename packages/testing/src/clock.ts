/**
 * A clock for the code under test (it fits @parley/config's `Clock`) that a test moves instead of waiting for time
 * to pass: the real time plus an offset. Timers the code set with the real clock are not moved.
 */
export class ShiftedClock {
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /** Moves the time forward by `ms`. */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Makes the time `at` now (and moves on from there). */
  setTo(at: number | Date): void {
    this.offsetMs = (typeof at === "number" ? at : at.getTime()) - Date.now();
  }

  /** Back to the real time. */
  reset(): void {
    this.offsetMs = 0;
  }
}
