import { Redis } from "ioredis";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { resolveServices, TestStores } from "../src";

describe("a test file's stores", () => {
  it("stop what was started on them, the last started first and every one even when one fails, then are dropped", async () => {
    const stores = await TestStores.create("stores", {});
    const redis = new Redis(stores.redis.url);
    await redis.set(`${stores.redis.prefix}k`, "1");
    const stopped: string[] = [];
    stores.started("first", (name) => stopped.push(name));
    stores.started("failing", () => Promise.reject(new Error("could not stop")));
    expect(stores.started("last", (name) => stopped.push(name))).toBe("last");

    await expect(stores.close()).rejects.toThrow("could not stop");
    expect(stopped).toEqual(["last", "first"]);
    expect(await redis.get(`${stores.redis.prefix}k`)).toBeNull();
    const admin = postgres((await resolveServices()).adminDatabaseUrl, { max: 1 });
    expect(await admin`SELECT datname FROM pg_database WHERE datname = ${stores.database.name}`).toEqual([]);
    await admin.end();
    redis.disconnect();
  });

  it("are closed when what is built on them fails, and the failure goes on", async () => {
    const stores = await TestStores.create("stores", {});
    const stopped: string[] = [];
    stores.started("node", (name) => stopped.push(name));

    await expect(stores.closedOnFailure(() => Promise.reject(new Error("the API did not start")))).rejects.toThrow("the API did not start");
    expect(stopped).toEqual(["node"]);
    const admin = postgres((await resolveServices()).adminDatabaseUrl, { max: 1 });
    expect(await admin`SELECT datname FROM pg_database WHERE datname = ${stores.database.name}`).toEqual([]);
    await admin.end();
  });

  it("stop resources started together at the same time, and the others alone around them", async () => {
    const stores = await TestStores.create("stores", {});
    const log: string[] = [];
    const running = new Set<string>();
    const stop = (name: string) => async () => {
      running.add(name);
      log.push(`${name} starts stopping with ${[...running].sort().join(",")} stopping`);
      await new Promise((resolve) => setImmediate(resolve));
      running.delete(name);
    };
    stores.started("client", (name) => stop(name)());
    stores.started("api", (name) => stop(name)(), { together: true });
    stores.started("edge", (name) => stop(name)(), { together: true });
    stores.started("probe", (name) => stop(name)());

    await stores.close();
    expect(log).toEqual(["probe starts stopping with probe stopping", "edge starts stopping with edge stopping", "api starts stopping with api,edge stopping", "client starts stopping with client stopping"]);
  });
});
