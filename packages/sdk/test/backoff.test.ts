import { describe, expect, it } from "vitest";
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from "../src/backoff";
import { refreshDelay, tokenExpiry } from "../src/token-provider";
import { tokenExpiringAt } from "./support/fixtures";

describe("backoff with full jitter", () => {
  it("grows the ceiling by the factor per attempt and caps it", () => {
    const options = { initialDelayMs: 100, maxDelayMs: 5_000, factor: 2 };
    expect([0, 1, 2, 3, 4, 5, 6, 10, 50].map((attempt) => backoffCeiling(options, attempt))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it("draws every delay uniformly in [0, ceiling)", () => {
    const options = DEFAULT_BACKOFF;
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const ceiling = backoffCeiling(options, attempt);
      expect(backoffDelay(options, attempt, () => 0)).toBe(0);
      expect(backoffDelay(options, attempt, () => 0.5)).toBe(Math.floor(ceiling / 2));
      const highest = backoffDelay(options, attempt, () => 0.999_999);
      expect(highest).toBeLessThan(ceiling);
      expect(highest).toBeGreaterThanOrEqual(ceiling - 1);
    }
  });
});

describe("token refresh schedule", () => {
  it("reads exp from a JWT and refreshes a margin before it, or half-way for short-lived tokens", () => {
    const now = 1_800_000_000_000;
    expect(tokenExpiry(tokenExpiringAt(now + 3_600_000))).toBe(now + 3_600_000);
    expect(tokenExpiry("not-a-jwt")).toBeUndefined();
    expect(refreshDelay(now + 3_600_000, now, 60_000)).toBe(3_540_000);
    expect(refreshDelay(now + 20_000, now, 60_000)).toBe(10_000);
    expect(refreshDelay(now - 1, now, 60_000)).toBe(0);
  });
});
