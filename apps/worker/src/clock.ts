/** Where the worker reads the time: injected so archival tests can move it without waiting. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
