import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { GroupCommit, type ItemOutcome } from "../src/services/group-commit";

interface Item {
  readonly key: string;
  readonly lock: string;
}

/** A group commit whose batches stay in flight until the test lets them finish. */
function harness(maxInFlight: number) {
  const batches: { items: readonly Item[]; finish: () => void }[] = [];
  const commit = new GroupCommit<Item, string>({
    run: (items) =>
      new Promise<ItemOutcome<string>[]>((resolve) => {
        batches.push({ items, finish: () => resolve(items.map((item) => ({ ok: true, value: item.key }))) });
      }),
    keyOf: (item) => item.key,
    lockKeyOf: (item) => item.lock,
    maxBatch: 10,
    windowMs: 0,
    maxInFlight,
    registry: new Registry(),
  });
  return { commit, batches };
}

/** Lets queued work and the setImmediate dispatches it schedules run (a few turns of the event loop, no clock). */
async function turn(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe("group commit batches", () => {
  it("keeps a send whose lock key a batch in flight holds for a later batch, so batches in flight never share one", async () => {
    const { commit, batches } = harness(2);
    const first = [commit.submit({ key: "a1", lock: "c1" }), commit.submit({ key: "b1", lock: "c2" })];
    await turn();
    expect(batches.map((b) => b.items.map((i) => i.key))).toEqual([["a1", "b1"]]);
    // c1 is held by the batch in flight: only c3's send may go in the second batch now.
    const later = [commit.submit({ key: "a2", lock: "c1" }), commit.submit({ key: "c1x", lock: "c3" })];
    await turn();
    expect(batches.map((b) => b.items.map((i) => i.key))).toEqual([["a1", "b1"], ["c1x"]]);
    batches[0]?.finish();
    await Promise.all(first);
    await turn();
    expect(batches[2]?.items.map((i) => i.key)).toEqual(["a2"]);
    batches[1]?.finish();
    batches[2]?.finish();
    expect(await Promise.all(later)).toEqual(["a2", "c1x"]);
    await commit.drained();
  });

  it("starts no empty batch while everything queued waits on a held lock key", async () => {
    const { commit, batches } = harness(3);
    const sends = [commit.submit({ key: "x1", lock: "c1" })];
    await turn();
    sends.push(commit.submit({ key: "x2", lock: "c1" }), commit.submit({ key: "x3", lock: "c1" }));
    await turn();
    expect(batches).toHaveLength(1);
    batches[0]?.finish();
    await sends[0];
    await turn();
    // x2 and x3 have different keys and the same lock key: they share the next batch.
    expect(batches.map((b) => b.items.map((i) => i.key))).toEqual([["x1"], ["x2", "x3"]]);
    batches[1]?.finish();
    expect(await Promise.all(sends)).toEqual(["x1", "x2", "x3"]);
  });
});
