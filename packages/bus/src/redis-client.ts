import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";

/** A connection to a single Redis or to a Redis Cluster: the bus speaks to either. */
export type RedisClient = Redis | Cluster;

/** The two settings (packages/config) that say where Redis is and whether it is a cluster. */
export interface RedisTarget {
  readonly REDIS_URL: string;
  readonly REDIS_CLUSTER: boolean;
}

export type RedisClientOptions = Omit<RedisOptions, "host" | "port" | "path" | "sentinels" | "readOnly">;

export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

/** The seed nodes of REDIS_URL (comma-separated URLs; credentials and TLS come from the first). */
export function seedNodes(url: string): URL[] {
  return url
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
    .map((item) => new URL(item));
}

/** A connection for the given target: ioredis Redis, or ioredis Cluster when REDIS_CLUSTER is true. */
export function createRedisClient(target: RedisTarget, options: RedisClientOptions = {}): RedisClient {
  // A cluster takes these at its own level (retryStrategy: clusterRetryStrategy, left at its default).
  const { lazyConnect, enableAutoPipelining: _autoPipelining, retryStrategy: _retryStrategy, enableOfflineQueue, ...nodeOptions } = options;
  const seeds = seedNodes(target.REDIS_URL);
  const [first] = seeds;
  if (first === undefined) throw new Error("REDIS_URL names no Redis");
  if (!target.REDIS_CLUSTER) {
    if (seeds.length > 1) throw new Error("REDIS_URL names several nodes: set REDIS_CLUSTER=true for a Redis Cluster");
    return new Redis(first.toString(), options);
  }
  const redisOptions: ClusterOptions["redisOptions"] = {
    ...nodeOptions,
    ...(first.username === "" ? {} : { username: decodeURIComponent(first.username) }),
    ...(first.password === "" ? {} : { password: decodeURIComponent(first.password) }),
    ...(first.protocol === "rediss:" ? { tls: {} } : {}),
  };
  return new Cluster(
    seeds.map((seed) => ({ host: seed.hostname, port: Number(seed.port || 6379) })),
    {
      redisOptions,
      ...(lazyConnect === undefined ? {} : { lazyConnect }),
      // Never auto-pipelined: ioredis 5.9 groups scripts (EVALSHA) of different slots into one auto-pipeline and the
      // whole batch fails ("All keys in the pipeline should belong to the same slots allocation group").
      enableAutoPipelining: false,
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      // A failover takes a few seconds: commands wait for the new master instead of failing at once.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 200,
      // Every node is a master at most a few moments: reads stay on masters, so a write is read back at once.
      scaleReads: "master",
    },
  );
}

/** A second connection like `redis` (e.g. a dedicated subscriber), not yet connected. */
export function duplicateRedisClient(redis: RedisClient, options: RedisOptions = {}): RedisClient {
  return isCluster(redis) ? redis.duplicate(undefined, { lazyConnect: true, ...options }) : redis.duplicate({ lazyConnect: true, ...options });
}

/** PUBLISH, or SPUBLISH on a cluster (the channel then lives on its slot's shard, not broadcast to every node). */
export async function publishToChannel(redis: RedisClient, channel: string, message: string): Promise<void> {
  if (isCluster(redis)) await redis.spublish(channel, message);
  else await redis.publish(channel, message);
}
