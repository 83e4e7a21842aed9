import { createTestRedis, type TestRedis } from "@parley/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logSerializers } from "../src";

let testRedis: TestRedis;
let redis: Redis;

beforeAll(async () => {
  testRedis = await createTestRedis("errors");
  redis = new Redis(testRedis.url);
});
afterAll(async () => {
  redis.disconnect();
  await testRedis.cleanup();
});

/** What the err serializer writes for `error` holds each of `kept` and none of `dropped`. */
function expectSerialized(error: unknown, kept: readonly string[], dropped: readonly string[]): void {
  const serialized = JSON.stringify(logSerializers.err(error));
  for (const text of kept) expect(serialized).toContain(text);
  for (const text of dropped) expect(serialized).not.toContain(text);
}

describe("the err serializer", () => {
  it("keeps a Redis command's name and drops its arguments", async () => {
    const key = `${testRedis.prefix}list`;
    await redis.rpush(key, "x");
    // A wrong-type command whose argument is message content: ioredis attaches {name, args} to the error.
    const error = await redis.xadd(key, "*", "content", "my secret message").catch((caught: unknown) => caught);
    expectSerialized(error, ["WRONGTYPE", "xadd"], ["my secret message"]);
  });

  it("drops an SMTP answer's recipients and scrubs addresses from the message", () => {
    const error = Object.assign(new Error("Can't send mail - all recipients were rejected: 550 5.1.1 <bob@example.com>: unknown"), {
      code: "EENVELOPE",
      responseCode: 550,
      command: "RCPT TO",
      response: "550 5.1.1 <bob@example.com>: unknown",
      rejected: ["bob@example.com"],
    });
    expectSerialized(error, ["EENVELOPE", "550"], ["bob@example.com"]);
  });

  it("reduces a wrapped PostgreSQL error to SQLSTATE, constraint and table", () => {
    const cause = Object.assign(new Error('duplicate key value violates unique constraint "users_username_key"'), {
      name: "PostgresError",
      code: "23505",
      severity: "ERROR",
      detail: "Key (username)=(ada) already exists.",
      constraint_name: "users_username_key",
      table_name: "users",
    });
    const wrapper = Object.assign(new Error("Failed query: insert into users ... params: ada,$argon2id$v=19$m=19456"), { query: "insert into users", params: ["ada", "$argon2id$v=19$m=19456"], cause });
    const serialized = logSerializers.err(wrapper) as { cause?: Record<string, unknown> };
    expect(serialized.cause).toEqual({ type: "PostgresError", sqlstate: "23505", constraint: "users_username_key", table: "users" });
    expect(JSON.stringify(serialized)).not.toMatch(/argon2id|\(ada\)/);
  });
});
