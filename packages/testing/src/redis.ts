import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { resolveRedisCluster } from "./redis-cluster";
import { resolveServices } from "./services";

export interface TestRedis {
  /** REDIS_URL for the code under test (with `cluster`, every seed node, comma-separated). */
  readonly url: string;
  /** REDIS_CLUSTER for the code under test. */
  readonly cluster: boolean;
  /** A key prefix unique to this test file: every key and channel the code under test uses starts with it. */
  readonly prefix: string;
  /** Deletes every key under the prefix. Safe to call twice. */
  cleanup(): Promise<void>;
}

export interface TestRedisOptions {
  /** A Redis Cluster (resolveRedisCluster) instead of the single Redis of resolveServices. */
  readonly cluster?: boolean;
  /** With `cluster`: the seeds of this cluster instead (one a test started for itself, to kill nodes of). */
  readonly clusterUrl?: string;
}

export async function createTestRedis(label = "t", options: TestRedisOptions = {}): Promise<TestRedis> {
  const cluster = options.cluster === true;
  const redisUrl = cluster ? (options.clusterUrl ?? (await resolveRedisCluster()).url) : (await resolveServices()).redisUrl;
  const prefix = `parley-test:${label}:${randomBytes(5).toString("hex")}:`;
  let cleaned = false;
  return {
    url: redisUrl,
    cluster,
    prefix,
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      if (cluster) await cleanupCluster(redisUrl, prefix);
      else await deleteUnder(new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 }), prefix, true);
    },
  };
}

/** Scans one node for keys under `prefix` and deletes them (one at a time on a cluster: they span slots). */
async function deleteUnder(redis: Redis, prefix: string, together: boolean, owner: Redis | Cluster = redis): Promise<void> {
  try {
    if (redis.status === "wait") await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length === 0) continue;
      if (together) await owner.unlink(...keys);
      else await Promise.all(keys.map((key) => owner.unlink(key)));
    } while (cursor !== "0");
  } finally {
    if (owner === redis) redis.disconnect();
  }
}

async function cleanupCluster(url: string, prefix: string): Promise<void> {
  const cluster = new Cluster(url.split(",").map((seed) => ({ host: new URL(seed).hostname, port: Number(new URL(seed).port) })), { lazyConnect: true });
  cluster.on("error", () => undefined);
  try {
    await cluster.connect();
    for (const node of cluster.nodes("master")) await deleteUnder(node, prefix, false, cluster);
  } finally {
    cluster.disconnect();
  }
}

/** Whether a Redis answers PING at `url` right now (one attempt, no reconnects). */
export async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
