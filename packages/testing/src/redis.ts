import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { resolveServices } from "./services";

export interface TestRedis {
  readonly url: string;
  /** A key prefix unique to this test file: every key and channel the code under test uses starts with it. */
  readonly prefix: string;
  /** Deletes every key under the prefix. Safe to call twice. */
  cleanup(): Promise<void>;
}

export async function createTestRedis(label = "t"): Promise<TestRedis> {
  const { redisUrl } = await resolveServices();
  const prefix = `parley-test:${label}:${randomBytes(5).toString("hex")}:`;
  let cleaned = false;
  return {
    url: redisUrl,
    prefix,
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
      try {
        await redis.connect();
        let cursor = "0";
        do {
          const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
          cursor = next;
          if (keys.length > 0) await redis.unlink(...keys);
        } while (cursor !== "0");
      } finally {
        redis.disconnect();
      }
    },
  };
}
