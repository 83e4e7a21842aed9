export { freePort, startAppProcess, type AppProcess, type AppProcessOptions } from "./app-process";
export { ManualClock, ShiftedClock } from "./clock";
export { createTestDatabase, databaseUrl, type TestDatabase, type TestDatabaseOptions } from "./databases";
export { createTestRedis, type TestRedis, type TestRedisOptions } from "./redis";
export { resolveRedisCluster, startRedisCluster, type RedisClusterNode, type RedisClusterOptions, type TestRedisCluster } from "./redis-cluster";
export { dockerAnswers, resolveServices, type TestServices } from "./services";
export { StoresHarness, TestStores } from "./test-stores";
export { waitFor, type WaitOptions } from "./wait-for";
export { arbitraryOf, hostileValue, mutated, validOrHostile } from "./zod-arbitrary";
