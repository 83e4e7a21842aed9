import { resolveRedisCluster } from "@parley/testing";

/** Starts one Redis Cluster for the whole leg and hands its seeds to the test files through TEST_REDIS_CLUSTER_URL. */
export default async function setup(): Promise<() => Promise<void>> {
  const cluster = await resolveRedisCluster();
  process.env.TEST_REDIS_CLUSTER_URL = cluster.url;
  return () => cluster.close();
}
