import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { trackExpiry } from "../src/authentication";
import { systemClock } from "@parley/config";
import { SocketHarness } from "./support/socket-harness";

const DAY = 86_400_000;
/** The longest delay a Node.js timer honours (about 24.8 days); longer ones fire at once, or early when clamped. */
const MAX_TIMER_MS = 2_147_483_647;

let harness: SocketHarness;

sharedPerFile(async () => {
  harness = await SocketHarness.start("edge-expiry");
  return harness;
});

afterEach(() => {
  vi.useRealTimers();
});

describe("token expiry", () => {
  it("keeps a socket whose token lives longer than a timer can wait open until the token really expires", async () => {
    const { connection } = await harness.open(randomUUID());
    const identity = connection.identity;
    if (identity === undefined) throw new Error("the harness socket has an identity");
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const exp = Math.floor((Date.now() + 30 * DAY) / 1000);
    connection.identity = { ...identity, claims: { ...identity.claims, exp } };
    trackExpiry(connection, systemClock, 0);
    vi.advanceTimersByTime(MAX_TIMER_MS + 1_000);
    expect(connection.isClosing()).toBe(false);
    vi.advanceTimersByTime(exp * 1000 - Date.now() + 1);
    expect(connection.isClosing()).toBe(true);
  });
});
