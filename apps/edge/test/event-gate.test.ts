import { comparePos } from "@parley/bus";
import type { ConversationEvent } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { deliverableOf, EventGate, type DeliverableEvent } from "../src/delivery/event-gate";

const conversationId = "0190a000-0000-7000-8000-000000000001";
const event = (pos: string, seq: number): DeliverableEvent =>
  deliverableOf({
    pos,
    event: { type: "message_deleted", conversation_id: conversationId, message_id: "0190a000-0000-7000-8000-000000000002", seq } satisfies ConversationEvent,
  });

/** Lets the gate's flush (paced, asynchronous) finish. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function gate(options: { maxHeld?: number } = {}) {
  const written: string[] = [];
  let overflowed = false;
  const events = new EventGate({
    emit: (delivered) => {
      written.push(delivered.pos);
      return true;
    },
    writable: () => Promise.resolve(true),
    congested: () => false,
    overflow: () => {
      overflowed = true;
    },
    maxHeld: options.maxHeld ?? 100,
  });
  return { events, written, overflowed: () => overflowed };
}

describe("EventGate", () => {
  it("holds live events until the first command had its chance, then writes them in order", async () => {
    const { events, written } = gate();
    events.offer(event("1-0", 1));
    events.offer(event("2-0", 2));
    expect(written).toEqual([]);
    events.releaseInitial();
    events.offer(event("3-0", 3));
    await settle();
    expect(written).toEqual(["1-0", "2-0", "3-0"]);
  });

  it("writes a replay first, then the live events held meanwhile, without doubles", async () => {
    const { events, written } = gate();
    events.releaseInitial();
    events.offer(event("1-0", 1));
    await events.hold(async () => {
      events.offer(event("3-0", 3)); // live, while the stream is read
      await Promise.resolve();
      for (const replayed of [event("1-0", 1), event("2-0", 2), event("3-0", 3)]) events.write(replayed);
      events.offer(event("4-0", 4));
    });
    await settle();
    expect(written).toEqual(["1-0", "2-0", "3-0", "4-0"]);
    expect(events.lastPos).toBe("4-0");
  });

  it("leaves out held events the replay already covered", async () => {
    const { events, written } = gate();
    events.releaseInitial();
    await events.hold(
      () => {
        events.offer(event("5-0", 5));
        events.offer(event("6-0", 6));
        return Promise.resolve();
      },
      ({ pos }) => comparePos(pos, "5-0") <= 0,
    );
    await settle();
    expect(written).toEqual(["6-0"]);
  });

  it("reports an overflow instead of dropping events when too many pile up", () => {
    const { events, overflowed } = gate({ maxHeld: 2 });
    events.offer(event("1-0", 1));
    events.offer(event("2-0", 2));
    expect(overflowed()).toBe(false);
    events.offer(event("3-0", 3));
    expect(overflowed()).toBe(true);
  });

  it("lets a replay that starts while the backlog waits for buffer room go first, then applies its skip", async () => {
    const out: string[] = [];
    let congested = true;
    let room: ((ok: boolean) => void) | undefined;
    const events = new EventGate({
      emit: (delivered) => {
        out.push(`live ${delivered.pos}`);
        return true;
      },
      writable: () => new Promise<boolean>((resolve) => (room = resolve)),
      congested: () => congested,
      overflow: () => undefined,
      maxHeld: 100,
    });
    events.offer(event("7-0", 7)); // held until the first command
    events.releaseInitial(); // the backlog flush waits for room in the socket's buffer
    expect(room).toBeDefined();
    // `subscribe {since_seq: 5}`: history frames go out beside the gate; the live copy of seq 7 is one of them.
    await events.hold(
      async () => {
        out.push("history 6");
        congested = false;
        room?.(true);
        await settle();
        out.push("history 7", "history 8");
      },
      ({ pos }) => comparePos(pos, "8-0") <= 0,
    );
    await settle();
    expect(out).toEqual(["history 6", "history 7", "history 8"]);
  });

  it("remembers what went out in constant memory, and still drops a copy of an event long after it went out", async () => {
    const { events, written } = gate();
    events.releaseInitial();
    for (let i = 1; i <= 50_000; i += 1) events.offer(event(`${i}-0`, i));
    // Whatever the gate keeps per socket stays small however many events went out.
    const sizes = Object.values(events).flatMap((field: unknown) =>
      field instanceof Set || field instanceof Map ? [field.size] : Array.isArray(field) ? [field.length] : [],
    );
    expect(Math.max(...sizes)).toBeLessThanOrEqual(8);
    // A replay of the whole stream (out of order with what went out live) writes nothing twice.
    await events.hold(() => {
      for (const i of [1, 2, 25_000, 50_000]) events.write(event(`${i}-0`, i));
      events.write(event("50001-0", 50_001));
      return Promise.resolve();
    });
    events.offer(event("50001-0", 50_001));
    events.offer(event("49999-0", 49_999));
    events.offer(event("50002-0", 50_002));
    await settle();
    expect(written).toHaveLength(50_002);
    expect(written.slice(-3)).toEqual(["50000-0", "50001-0", "50002-0"]);
  });

  it("a resume from before what already went out live fills in the older events, then writes nothing twice", async () => {
    const { events, written } = gate();
    events.releaseInitial();
    events.offer(event("5-0", 5));
    events.offer(event("6-0", 6));
    await events.hold(async () => {
      events.offer(event("8-0", 8)); // live, held while the stream is read
      await Promise.resolve();
      // A copy of 3 while the replay is still below the live run is dropped too.
      for (const i of [2, 3, 3, 5, 6, 7, 8]) events.write(event(`${i}-0`, i));
    });
    events.offer(event("9-0", 9));
    await settle();
    expect(written).toEqual(["5-0", "6-0", "2-0", "3-0", "7-0", "8-0", "9-0"]);
    // Afterwards the whole run 2..9 counts as sent.
    events.write(event("4-0", 4));
    events.write(event("2-0", 2));
    expect(written.at(-1)).toBe("9-0");
    expect(events.lastPos).toBe("9-0");
  });
});
