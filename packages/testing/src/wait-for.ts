export interface WaitOptions {
  /** Give up after this many milliseconds. */
  readonly timeout?: number;
  /** Poll every this many milliseconds. */
  readonly interval?: number;
  readonly message?: string;
}

/**
 * Polls `check` until it returns a value other than undefined/false (or stops throwing),
 * failing with the last error after the deadline. Never a fixed sleep.
 */
export async function waitFor<T>(check: () => T | Promise<T>, options: WaitOptions = {}): Promise<Exclude<T, false | undefined>> {
  const deadline = Date.now() + (options.timeout ?? 5_000);
  const interval = options.interval ?? 20;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`${options.message ?? "condition not met"} within ${options.timeout ?? 5_000} ms${reason}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
