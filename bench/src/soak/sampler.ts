import type { ClusterApp } from "@parley/launcher";
import type { Redis } from "ioredis";

/** One reading every SOAK_SAMPLE_SECONDS. */
export interface Sample {
  /** Seconds since the load started. */
  readonly t: number;
  /** node name → process_resident_memory_bytes / nodejs_heap_size_used_bytes (absent when /metrics did not answer). */
  readonly rss: Readonly<Record<string, number>>;
  readonly heap: Readonly<Record<string, number>>;
  /** Redis `INFO memory` used_memory. */
  readonly redisUsedMemory: number;
  /** The API's parley_outbox_backlog (events committed but not yet published). */
  readonly apiOutboxBacklog: number;
  /** Messages waiting in the SDK clients' outboxes. */
  readonly clientOutboxBacklog: number;
  /** (user, message) deliveries so far: the events Redis retains in the users' resume streams. */
  readonly delivered: number;
}

/** The value of an unlabelled gauge in a Prometheus exposition, or undefined. */
export function gauge(exposition: string, name: string): number | undefined {
  const line = exposition.split("\n").find((candidate) => candidate.startsWith(`${name} `) || candidate.startsWith(`${name}{`));
  if (line === undefined) return undefined;
  const value = Number(line.slice(line.lastIndexOf(" ") + 1));
  return Number.isFinite(value) ? value : undefined;
}

/** used_memory from `INFO memory`. */
export async function redisUsedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  const match = /^used_memory:(\d+)/m.exec(info);
  return match ? Number(match[1]) : Number.NaN;
}

async function exposition(app: ClusterApp): Promise<string | undefined> {
  try {
    const response = await fetch(`${app.opsUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return response.status === 200 ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

export async function takeSample(t: number, apps: readonly ClusterApp[], redis: Redis, clients: { outboxBacklog: number; delivered: number }): Promise<Sample> {
  const rss: Record<string, number> = {};
  const heap: Record<string, number> = {};
  let apiOutboxBacklog = 0;
  await Promise.all(
    apps.map(async (app) => {
      const text = await exposition(app);
      if (text === undefined) return;
      const resident = gauge(text, "process_resident_memory_bytes");
      const used = gauge(text, "nodejs_heap_size_used_bytes");
      if (resident !== undefined) rss[app.name] = resident;
      if (used !== undefined) heap[app.name] = used;
      if (app.app === "api") apiOutboxBacklog = gauge(text, "parley_outbox_backlog") ?? 0;
    }),
  );
  return { t, rss, heap, redisUsedMemory: await redisUsedMemory(redis), apiOutboxBacklog, clientOutboxBacklog: clients.outboxBacklog, delivered: clients.delivered };
}
