import { describe, expect, it } from "vitest";
import { ManualClock, ShiftedClock, waitFor } from "../src";

const T0 = Date.parse("2030-01-01T00:00:00Z");

describe("a manual clock", () => {
  it("stands still until moved, and runs the timers due by the new time in due order, each at its own time", () => {
    const clock = new ManualClock(T0);
    const ran: string[] = [];
    const at = (name: string) => () => ran.push(`${name}@${clock.now().getTime() - T0}`);
    clock.setTimeout(at("c"), 300);
    clock.setTimeout(at("a"), 100);
    clock.setTimeout(at("b"), 200);
    clock.setTimeout(at("later"), 1_000);
    expect(clock.now().getTime()).toBe(T0);

    clock.advance(299);
    expect(ran).toEqual(["a@100", "b@200"]);
    expect(clock.now().getTime()).toBe(T0 + 299);
    expect(clock.pending()).toEqual([1, 701]);
    clock.advance(1);
    expect(ran).toEqual(["a@100", "b@200", "c@300"]);
    clock.setTo(new Date(T0 + 1_000));
    expect(ran.at(-1)).toBe("later@1000");
    expect(clock.pending()).toEqual([]);
  });

  it("runs timers due at the same time in the order they were set", () => {
    const clock = new ManualClock(T0);
    const ran: number[] = [];
    for (const n of [1, 2, 3]) clock.setTimeout(() => ran.push(n), 50);
    clock.advance(50);
    expect(ran).toEqual([1, 2, 3]);
  });

  it("runs in the same move a timer that a firing timer sets when it falls due by the new time, and not one after it", () => {
    const clock = new ManualClock(T0);
    const ran: string[] = [];
    clock.setTimeout(() => {
      ran.push("first");
      clock.setTimeout(() => ran.push("chained"), 100);
      clock.setTimeout(() => ran.push("too late"), 1_000);
    }, 100);
    clock.setTimeout(() => ran.push("between"), 150);
    clock.advance(250);
    expect(ran).toEqual(["first", "between", "chained"]);
    expect(clock.pending()).toEqual([850]);
  });

  it("never runs a cleared timer, also one cleared by a timer firing in the same move", () => {
    const clock = new ManualClock(T0);
    const ran: string[] = [];
    const cleared = clock.setTimeout(() => ran.push("cleared"), 10);
    cleared.clear();
    const victim = clock.setTimeout(() => ran.push("victim"), 200);
    clock.setTimeout(() => {
      ran.push("clearer");
      victim.clear();
    }, 100);
    clock.advance(500);
    expect(ran).toEqual(["clearer"]);
    cleared.clear();
  });

  it("fires nothing when moved back, and keeps each timer due at the time it was set for", () => {
    const clock = new ManualClock(T0);
    let ran = false;
    clock.setTimeout(() => (ran = true), 100);
    clock.setTo(T0 - 1_000);
    expect(ran).toBe(false);
    expect(clock.pending()).toEqual([1_100]);
    clock.advance(1_099);
    expect(ran).toBe(false);
    clock.advance(1);
    expect(ran).toBe(true);
  });

  it("runs a timer set for a moment already past promptly on its own, never inside setTimeout", async () => {
    const clock = new ManualClock(T0);
    let ran = 0;
    clock.setTimeout(() => (ran += 1), 0);
    clock.setTimeout(() => (ran += 1), -50);
    expect(ran).toBe(0);
    await waitFor(() => ran === 2);
    expect(clock.now().getTime()).toBe(T0);
  });

  it("refuses to be moved from inside one of its timers, and keeps its time", () => {
    const clock = new ManualClock(T0);
    clock.setTimeout(() => clock.advance(10), 5);
    expect(() => clock.advance(100)).toThrow(/inside one of its timers/);
    expect(clock.now().getTime()).toBe(T0 + 100);
  });
});

describe("a shifted clock", () => {
  it("is the real time plus what the test moved it by, back to the real time on reset", () => {
    const clock = new ShiftedClock();
    const shift = () => clock.now().getTime() - Date.now();
    expect(Math.abs(shift())).toBeLessThan(50);
    clock.advance(60_000);
    expect(shift()).toBeGreaterThan(59_900);
    clock.setTo(T0);
    expect(Math.abs(clock.now().getTime() - T0)).toBeLessThan(50);
    clock.reset();
    expect(Math.abs(shift())).toBeLessThan(50);
  });

  it("fires a timer at once when moved past it, without waiting for the real time", () => {
    const clock = new ShiftedClock();
    let firedAt: number | undefined;
    const start = clock.now().getTime();
    clock.setTimeout(() => (firedAt = clock.now().getTime()), 3_600_000);
    clock.advance(3_599_000);
    expect(firedAt).toBeUndefined();
    clock.advance(1_000);
    expect(firedAt).toBeGreaterThanOrEqual(start + 3_600_000);
    expect(clock.pending()).toEqual([]);
  });

  it("fires a timer when the real time gets to it, as the system clock would, when nobody moves it", async () => {
    const clock = new ShiftedClock();
    clock.setTo(T0);
    let fired = false;
    clock.setTimeout(() => (fired = true), 30);
    expect(fired).toBe(false);
    await waitFor(() => fired, { timeout: 2_000 });
    expect(clock.now().getTime()).toBeGreaterThanOrEqual(T0 + 30);
  });

  it("moved back by reset, keeps a timer due on the shifted time", () => {
    const clock = new ShiftedClock();
    let fired = false;
    clock.advance(3_600_000);
    clock.setTimeout(() => (fired = true), 1_000);
    clock.reset();
    expect(fired).toBe(false);
    expect(clock.pending()[0]).toBeGreaterThan(3_600_000);
    clock.advance(3_601_000);
    expect(fired).toBe(true);
  });
});
