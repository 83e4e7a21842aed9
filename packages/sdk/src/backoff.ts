export interface BackoffOptions {
  /** Upper bound of the first retry's delay (ms). */
  readonly initialDelayMs: number;
  /** No delay is ever longer than this (ms). */
  readonly maxDelayMs: number;
  /** Growth of the upper bound per failed attempt. */
  readonly factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 };

/** The upper bound of the delay before retry number `attempt` (0-based): initial × factor^attempt, capped. */
export function backoffCeiling(options: BackoffOptions, attempt: number): number {
  return Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** Math.max(0, attempt));
}

/** Exponential backoff with full jitter: uniform in [0, ceiling), so a crowd of clients spreads out. */
export function backoffDelay(options: BackoffOptions, attempt: number, random: () => number): number {
  return Math.floor(random() * backoffCeiling(options, attempt));
}
