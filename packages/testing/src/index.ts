export { freePort, startAppProcess, type AppProcess, type AppProcessOptions } from "./app-process";
export { createTestDatabase, databaseUrl, type TestDatabase, type TestDatabaseOptions } from "./databases";
export { createTestRedis, type TestRedis } from "./redis";
export { dockerAnswers, resolveServices, type TestServices } from "./services";
export { waitFor, type WaitOptions } from "./wait-for";
export { arbitraryOf, hostileValue, mutated, validOrHostile } from "./zod-arbitrary";
