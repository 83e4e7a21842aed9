/**
 * CI-sized run of bench/fanout: every target (Parley's cluster, the Socket.IO reference, the bare relay) under a
 * small load, checking only that each delivers every message to every member exactly once. No timing is asserted.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_SETTINGS, runFanout, type FanoutRun } from "../src/fanout/run-fanout";

const lines: string[] = [];

describe("bench/fanout smoke run", () => {
  it("delivers every message exactly once to every member, on every target", { timeout: 240_000 }, async () => {
    const run: FanoutRun = await runFanout(
      {
        ...DEFAULT_SETTINGS,
        clients: 40,
        groupSize: 10,
        threads: 1,
        rates: [20],
        stepSeconds: 2,
        // Waits only as long as deliveries are missing: a slow machine makes it longer, never a failure.
        drainSeconds: 60,
        warmupSeconds: 0,
        idleConnections: 0,
        maxMinutes: 20,
        p99LimitMs: 600_000,
        stopAtSaturation: false,
      },
      (line) => lines.push(line),
    );
    expect(run.targets.map((target) => target.name)).toEqual([...DEFAULT_SETTINGS.targets]);
    for (const target of run.targets) {
      const context = `${target.name}:\n${lines.join("\n")}`;
      expect(target.error, context).toBeNull();
      expect(target.connect?.connected, context).toBe(40);
      const [step] = target.steps;
      expect(step, context).toBeDefined();
      if (!step) continue;
      expect(step.sent, context).toBe(40);
      expect(step.send_errors, context).toBe(0);
      expect(step.expected, context).toBe(400);
      expect({ delivered: step.delivered, lost: step.lost, duplicates: step.duplicates, late: step.late, foreign: step.foreign, closed: step.connections_closed }, context).toEqual({
        delivered: 400,
        lost: 0,
        duplicates: 0,
        late: 0,
        foreign: 0,
        closed: 0,
      });
      // Parley's step reports its group commit from the API's metrics: every send was in some batch.
      if (target.name === "parley") expect(step.send_batches?.mean_size, context).toBeGreaterThanOrEqual(1);
      else expect(step.send_batches, context).toBeNull();
    }
  });
});
