import { JOB_QUEUES, jobQueuePrefix } from "@parley/bus";
import { schema } from "@parley/db";
import type { Me } from "@parley/protocol";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness } from "./support/api-harness";

let api: ApiHarness;
let off: ApiHarness;
let queueRedis: Redis;
let queue: Queue;

beforeAll(async () => {
  [api, off] = await Promise.all([ApiHarness.start({ EMAIL_CONFIRMATION_TTL: "1h" }), ApiHarness.start({ EMAIL_CONFIRMATION: "off" })]);
  queueRedis = new Redis(api.redis.url, { maxRetriesPerRequest: null });
  queue = new Queue(JOB_QUEUES.accountMail, { connection: queueRedis, prefix: jobQueuePrefix(api.redis.prefix) });
});
afterAll(async () => {
  await queue.close();
  queueRedis.disconnect();
  await Promise.all([api.close(), off.close()]);
});

const me = (token: string, harness = api) => harness.request<Me>("GET", "/v1/users/me", { token });
const confirm = (token: string) => api.request("POST", "/v1/auth/confirm-email", { body: { token } });

/** What the worker does with the job: a token whose hash is stored for the address. */
async function issueToken(userId: string, email: string, expiresAt = new Date(Date.now() + 3_600_000)): Promise<string> {
  const token = randomBytes(32).toString("base64url");
  await api.node.database.db.insert(schema.emailConfirmations).values({ tokenHash: createHash("sha256").update(token).digest("hex"), userId, email, expiresAt });
  return token;
}

async function confirmationJobs(userId: string): Promise<{ email: string; expires_at: string }[]> {
  const jobs = await queue.getJobs(["waiting", "delayed", "active", "completed", "failed"]);
  return jobs.filter((job) => (job.data as { user_id: string }).user_id === userId).map((job) => job.data as { email: string; expires_at: string });
}

describe("EMAIL_CONFIRMATION=required (the default)", () => {
  it("asks the worker to mail a link for an address given at registration, and shows email_confirmed: false until it is followed", async () => {
    const user = await api.register("user", { email: "new@example.test" });
    expect((await me(user.token)).body).toMatchObject({ email: "new@example.test", email_confirmed: false });
    const jobs = await confirmationJobs(user.id);
    expect(jobs).toEqual([{ user_id: user.id, email: "new@example.test", expires_at: expect.any(String) as string }]);
    const ttl = Date.parse(jobs[0]?.expires_at ?? "") - Date.now();
    expect(ttl).toBeGreaterThan(50 * 60_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);

    const token = await issueToken(user.id, "new@example.test");
    expect(await confirm(token)).toMatchObject({ status: 200, body: { email_confirmed: true } });
    expect((await me(user.token)).body.email_confirmed).toBe(true);
    expect(await confirm(token)).toMatchObject({ status: 404, body: { error: { code: "confirmation_invalid" } } });
  });

  it("a changed address must be confirmed again; a link for the old address no longer confirms anything", async () => {
    const user = await api.register("user", { email: "a@example.test" });
    const stale = await issueToken(user.id, "a@example.test");
    await api.request("PATCH", "/v1/users/me", { token: user.token, body: { email: "b@example.test" } });
    expect((await me(user.token)).body).toMatchObject({ email: "b@example.test", email_confirmed: false });
    expect((await confirmationJobs(user.id)).map((job) => job.email)).toEqual(expect.arrayContaining(["a@example.test", "b@example.test"]));
    expect((await confirm(stale)).status).toBe(404);
    expect((await me(user.token)).body.email_confirmed).toBe(false);
  });

  it("refuses an expired or unknown token with 404 confirmation_invalid and a malformed one with 400", async () => {
    const user = await api.register("user", { email: "late@example.test" });
    const expired = await issueToken(user.id, "late@example.test", new Date(Date.now() - 1000));
    expect(await confirm(expired)).toMatchObject({ status: 404, body: { error: { code: "confirmation_invalid" } } });
    expect((await confirm(randomBytes(32).toString("base64url"))).status).toBe(404);
    expect(await api.request("POST", "/v1/auth/confirm-email", { body: {} })).toMatchObject({ status: 400, body: { error: { field: "token" } } });
  });

  it("counts an identity provider's address as confirmed only when the token says email_verified", async () => {
    const verified = await api.tokenFor({ sub: "idp-verified", role: "user", email: "v@example.test", email_verified: true });
    const unverified = await api.tokenFor({ sub: "idp-unverified", role: "user", email: "u@example.test" });
    expect((await me(verified)).body).toMatchObject({ email: "v@example.test", email_confirmed: true });
    expect((await me(unverified)).body).toMatchObject({ email: "u@example.test", email_confirmed: false });
  });
});

describe("EMAIL_CONFIRMATION=off", () => {
  it("trusts any address at once", async () => {
    const user = await off.register("user", { email: "trusted@example.test" });
    expect((await me(user.token, off)).body.email_confirmed).toBe(true);
  });
});
