/** A backing service the launcher found or started, and how to let go of it. */
export interface ResolvedService {
  readonly url: string;
  /** How it was found, printed at start: `DATABASE_URL`, `local service`, `embedded PostgreSQL`, … */
  readonly source: string;
  /** Stops what the launcher started; does nothing for services it only connects to. Safe to call twice. */
  close(): Promise<void>;
  /** For services the launcher runs: resolves with a reason if the service stops on its own. */
  readonly died?: Promise<string>;
}

/** A promise that never settles: a service that was stopped on purpose has not died. */
export const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

export const nothingToClose = (): Promise<void> => Promise.resolve();

/** Thrown when a service cannot be found or started; the message says what to do. */
export class ServiceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ServiceError";
  }
}
