import { afterAll, beforeAll } from "vitest";

/**
 * What a test file's tests share (a cluster, a harness): started before the first of them (given a minute) and
 * closed after the last. Registers the vitest hooks that do it.
 */
export function sharedPerFile(start: () => Promise<{ close(): Promise<void> }>): void {
  let shared: { close(): Promise<void> } | undefined;
  beforeAll(async () => {
    shared = await start();
  }, 60_000);
  afterAll(async () => {
    await shared?.close();
  });
}
