import type { ConversationEvent } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { EventGate, type DeliverableEvent } from "../src/delivery/event-gate";

const conversationId = "0190a000-0000-7000-8000-000000000001";
const event = (pos: string, seq: number): DeliverableEvent => ({
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
      ({ event: held }) => held.type === "message_deleted" && held.seq <= 5,
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
      ({ event: held }) => held.type === "message_deleted" && held.seq <= 8,
    );
    await settle();
    expect(out).toEqual(["history 6", "history 7", "history 8"]);
  });
});
