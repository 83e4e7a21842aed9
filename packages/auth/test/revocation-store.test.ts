import { Redis } from "ioredis";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRedis, waitFor, type TestRedis } from "@parley/testing";
import { AuthError, createTokenIssuer, createTokenVerifier, RevocationStore } from "../src";

const SECRET = "a-shared-secret-that-is-long-enough-for-hs256";
const nowSec = () => Math.floor(Date.now() / 1000);

let testRedis: TestRedis;
const connections: Redis[] = [];
const stores: RevocationStore[] = [];

async function connect(): Promise<Redis> {
  const redis = new Redis(testRedis.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  connections.push(redis);
  await redis.connect();
  return redis;
}

/** A node's store on its own Redis connections, like a separate process would have. */
async function node(options: { negativeTtlMs?: number; subscriber?: Redis } = {}): Promise<RevocationStore> {
  const store = new RevocationStore({ redis: await connect(), keyPrefix: testRedis.prefix, ...options });
  stores.push(store);
  await store.start();
  return store;
}

beforeAll(async () => {
  testRedis = await createTestRedis("auth-revocation");
});

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await Promise.all(connections.map((redis) => redis.quit().catch(() => undefined)));
  await testRedis.cleanup();
});

const issuer = createTokenIssuer({ secret: SECRET, ttlMs: 10 * 60_000 });

describe("RevocationStore", () => {
  it("refuses a revoked token", async () => {
    const store = await node();
    const verifier = createTokenVerifier({ secret: SECRET, revocations: store });
    const { token, claims } = await issuer.issue({ sub: "u-1", role: "student" });
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: "u-1" });
    await store.revoke(claims.jti!, claims.exp);
    const error: unknown = await verifier.verify(token).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).reason).toBe("revoked");
    expect((error as AuthError).code).toBe("token_revoked");
  });

  it("stores the revocation under the key prefix until the token expires", async () => {
    const store = await node();
    const redis = await connect();
    const exp = nowSec() + 120;
    await store.revoke("jti-stored", exp);
    expect(await redis.get(`${testRedis.prefix}revoked:jti-stored`)).toBe("1");
    expect(await redis.expiretime(`${testRedis.prefix}revoked:jti-stored`)).toBe(exp);
  });

  it("stores nothing for a token that has already expired", async () => {
    const store = await node();
    const redis = await connect();
    await store.revoke("jti-expired", nowSec() - 1);
    expect(await redis.exists(`${testRedis.prefix}revoked:jti-expired`)).toBe(0);
    expect(await store.isRevoked("jti-expired")).toBe(false);
  });

  it("a revocation on one node is seen by another, even after it cached 'not revoked'", async () => {
    const api = await node();
    // A negative answer trusted for a minute: only the broadcast can make the edge notice in time.
    const edge = await node({ negativeTtlMs: 60_000 });
    const edgeVerifier = createTokenVerifier({ secret: SECRET, revocations: edge });
    const { token, claims } = await issuer.issue({ sub: "u-2", role: "parent" });

    await expect(edgeVerifier.verify(token)).resolves.toMatchObject({ sub: "u-2" });
    expect(await edge.isRevoked(claims.jti!)).toBe(false);

    await api.revoke(claims.jti!, claims.exp);
    await waitFor(() => edge.isRevoked(claims.jti!), { timeout: 1_000, message: "the edge did not see the revocation" });
    await expect(edgeVerifier.verify(token)).rejects.toMatchObject({ reason: "revoked" });
  });

  it("a node that never asked reads the revocation from Redis", async () => {
    const api = await node();
    await api.revoke("jti-cold", nowSec() + 60);
    const late = new RevocationStore({ redis: await connect(), keyPrefix: testRedis.prefix });
    stores.push(late);
    expect(await late.isRevoked("jti-cold")).toBe(true);
    expect(await late.isRevoked("jti-never-revoked")).toBe(false);
  });

  it("tells onRevoked listeners on every node, and stops after unsubscribe", async () => {
    const api = await node();
    const edge = await node();
    const seen: string[] = [];
    const seenByOther: string[] = [];
    const unsubscribe = edge.onRevoked((jti) => seen.push(jti));
    edge.onRevoked((jti) => seenByOther.push(jti));
    await api.revoke("jti-listened", nowSec() + 60);
    await waitFor(() => seen.includes("jti-listened"), { timeout: 1_000 });
    unsubscribe();
    await api.revoke("jti-after-unsubscribe", nowSec() + 60);
    await waitFor(() => seenByOther.includes("jti-after-unsubscribe"), { timeout: 1_000 });
    expect(seen).toEqual(["jti-listened"]);
  });

  it("ignores broadcasts that are not revocations", async () => {
    const edge = await node({ negativeTtlMs: 60_000 });
    const publisher = await connect();
    const seen: string[] = [];
    edge.onRevoked((jti) => seen.push(jti));
    await publisher.publish(edge.channel, "not json");
    await publisher.publish(edge.channel, JSON.stringify({ jti: "", exp: "soon" }));
    await publisher.publish(edge.channel, JSON.stringify({ jti: "jti-broadcast", exp: nowSec() + 60 }));
    await waitFor(() => seen.length > 0, { timeout: 1_000 });
    expect(seen).toEqual(["jti-broadcast"]);
    expect(edge.channel.startsWith(testRedis.prefix)).toBe(true);
  });

  it("a token without jti cannot be revoked, so it stays valid", async () => {
    const store = await node();
    const verifier = createTokenVerifier({ secret: SECRET, revocations: store });
    const token = await new SignJWT({ sub: "u-3", role: "service", exp: nowSec() + 60 }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(SECRET));
    await expect(verifier.verify(token)).resolves.not.toHaveProperty("jti");
  });

  it("close() twice is fine, and leaves a subscriber it was given open", async () => {
    const own = await node();
    await own.close();
    await own.close();
    await expect(own.start()).rejects.toThrow(/closed/);

    const subscriber = await connect();
    const observer = await connect();
    const shared = await node({ subscriber });
    const subscribers = async () => ((await observer.call("PUBSUB", "NUMSUB", shared.channel)) as [string, number])[1];
    const before = await subscribers();
    await shared.close();
    await shared.close();
    expect(await subscribers()).toBe(before - 1);
    // Out of subscriber mode again, so the caller can use it for anything.
    expect(await subscriber.get(`${testRedis.prefix}nothing`)).toBeNull();
  });

  it("a store that was never started closes cleanly", async () => {
    const store = new RevocationStore({ redis: await connect(), keyPrefix: testRedis.prefix });
    await store.close();
    await store.close();
  });
});

describe("RevocationStore: whole subjects (suspension, erasure)", () => {
  it("refuses every token of a revoked subject on every node at once, tells listeners, and accepts them again once restored", async () => {
    const [a, b] = [await node({ negativeTtlMs: 60_000 }), await node({ negativeTtlMs: 60_000 })];
    const verifierB = createTokenVerifier({ secret: SECRET, revocations: b });
    const { token } = await issuer.issue({ sub: "suspended-1", role: "student" });
    // B has cached "not revoked" for a minute: only the broadcast can change its mind.
    expect((await verifierB.verify(token)).sub).toBe("suspended-1");
    const heard: string[] = [];
    b.onSubjectRevoked((sub) => heard.push(sub));
    await a.revokeSubject("suspended-1");
    await waitFor(() => heard.includes("suspended-1"));
    await expect(verifierB.verify(token)).rejects.toMatchObject({ reason: "suspended", code: "account_suspended" });
    const other = await issuer.issue({ sub: "someone-else", role: "student" });
    expect((await verifierB.verify(other.token)).sub).toBe("someone-else");
    await a.restoreSubject("suspended-1");
    await waitFor(async () => !(await b.isSubjectRevoked("suspended-1")));
    expect((await verifierB.verify(token)).sub).toBe("suspended-1");
  });

  it("a node started after the revocation reads it from Redis", async () => {
    const a = await node();
    await a.revokeSubject("suspended-2");
    const late = await node();
    expect(await late.isSubjectRevoked("suspended-2")).toBe(true);
    expect(await late.isSubjectRevoked("never-suspended")).toBe(false);
  });
});
