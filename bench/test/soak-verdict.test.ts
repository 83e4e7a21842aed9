import { describe, expect, it } from "vitest";
import type { Sample } from "../src/soak/sampler";
import { gauge } from "../src/soak/sampler";
import { readSoakSettings } from "../src/soak/settings";
import { judge, withSection, type DeliveryCheck } from "../src/soak/verdict";

const MIB = 1024 * 1024;
const settings = readSoakSettings({ SOAK_MINUTES: "3" });
const clean: DeliveryCheck = { sent: 10, acked: 10, duplicated: 0, outOfOrder: 0, reconnects: 2, delivered: 30, ackedMissing: 0, storedTwice: 0, lost: 0, restarts: 0 };

/** Samples every 10 s for 3 minutes; the API's RSS follows `apiRss(t)` MiB. */
function samples(apiRss: (t: number) => number, redisMiB: (t: number) => number = () => 4): Sample[] {
  return Array.from({ length: 18 }, (_, i) => {
    const t = (i + 1) * 10;
    return { t, rss: { api: apiRss(t) * MIB }, heap: { api: 40 * MIB }, redisUsedMemory: redisMiB(t) * MIB, apiOutboxBacklog: 0, clientOutboxBacklog: 0, delivered: t * 30 };
  });
}

describe("the soak verdict", () => {
  it("passes flat memory and no loss, and fails a node whose RSS keeps climbing after warm-up", () => {
    expect(judge(samples(() => 150), settings, clean).pass).toBe(true);
    const leaking = judge(samples((t) => 150 + t), settings, clean);
    expect(leaking.pass).toBe(false);
    expect(leaking.growth.find((check) => check.series === "api RSS")).toMatchObject({ pass: false });
  });

  it("lets Redis grow by the stated bytes per delivery, not more", () => {
    // 30 deliveries a second, 1 KiB each allowed: 100 s after warm-up ≈ 2.9 MiB on top of the 16 MiB floor.
    expect(judge(samples(() => 150, (t) => 4 + (t * 30 * 1000) / MIB), settings, clean).pass).toBe(true);
    expect(judge(samples(() => 150, (t) => 4 + t * 0.5), settings, clean).growth.find((check) => check.series === "Redis used_memory")?.pass).toBe(false);
  });

  it("fails on a lost, doubled or unacknowledged message, or a restarted app", () => {
    for (const flaw of [{ lost: 1 }, { storedTwice: 1 }, { ackedMissing: 1 }, { duplicated: 1 }, { outOfOrder: 1 }, { restarts: 1 }]) {
      expect(judge(samples(() => 150), settings, { ...clean, ...flaw }).pass, JSON.stringify(flaw)).toBe(false);
    }
  });

  it("rewrites only its own section of docs/RELIABILITY.md", () => {
    const document = "# Reliability\n\nintro\n\n## Soak\n\nold run\n\n## Fault injection\n\nchaos table\n";
    const updated = withSection(document, "## Soak\n\nnew run\n");
    expect(updated).toBe("# Reliability\n\nintro\n\n## Soak\n\nnew run\n\n## Fault injection\n\nchaos table\n");
    expect(withSection("# Reliability\n", "## Soak\n\nfirst run\n")).toBe("# Reliability\n\n## Soak\n\nfirst run\n");
  });

  it("reads unlabelled gauges from a Prometheus exposition", () => {
    const text = "# HELP process_resident_memory_bytes x\nprocess_resident_memory_bytes 123456\nparley_outbox_backlog 7\n";
    expect(gauge(text, "process_resident_memory_bytes")).toBe(123456);
    expect(gauge(text, "parley_outbox_backlog")).toBe(7);
    expect(gauge(text, "nodejs_heap_size_used_bytes")).toBeUndefined();
  });
});
