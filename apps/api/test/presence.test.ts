import { waitFor } from "@parley/testing";
import { twoUsersOnTwoEdges } from "@parley/testing/presence";
import { PresenceStore } from "@parley/bus";
import type { Presence } from "@parley/protocol";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness, type RegisteredUser } from "./support/api-harness";
import { link, openConversation, provision, serviceToken } from "./support/conversation-fixtures";

let api: ApiHarness;
let redis: Redis;
let store: PresenceStore;

beforeAll(async () => {
  api = await ApiHarness.start({ PARLEY_POLICY: "school", PRESENCE_GRACE_MS: "300ms" });
  // The edge nodes' side: the same key prefix, a connection of its own.
  redis = new Redis(api.redis.url, { lazyConnect: true });
  await redis.connect();
  store = new PresenceStore({ redis, keyPrefix: api.redis.prefix });
});
afterAll(async () => {
  redis.disconnect();
  await api.close();
});

/** A provisioned teacher (never self-registered under `school`) with class links to these students. */
async function teacherOf(...students: RegisteredUser[]): Promise<RegisteredUser> {
  const teacher = await provision(api, "teacher");
  const service = await serviceToken(api);
  for (const student of students) await link(api, service, teacher.id, student.id, "class");
  return teacher;
}

const connect = (user: RegisteredUser, node: string, connectionId: string) => store.register({ userId: user.id, node, connectionId }, 5);
const presence = (token: string, query = "") => api.request<{ items: Presence[] }>("GET", `/v1/presence${query}`, { token });

describe("GET /v1/stats", () => {
  it("reports connections, users and nodes across the cluster to admin and service tokens", async () => {
    const [a, b] = [await api.register("student"), await provision(api, "teacher")];
    const scene = twoUsersOnTwoEdges(a.id, b.id);
    for (const connection of scene.connections) await store.register(connection, 5);
    const admin = await provision(api, "admin");
    expect(await api.request("GET", "/v1/stats", { token: admin.token })).toMatchObject({ status: 200, body: scene.stats });
    expect((await api.request("GET", "/v1/stats", { token: await serviceToken(api) })).body).toEqual(scene.stats);

    const [aOnEdge1, ...onEdge2] = scene.connections;
    await store.unregister(aOnEdge1);
    await store.removeNode("edge-1");
    expect((await api.request("GET", "/v1/stats", { token: admin.token })).body).toMatchObject({ connections: 2, users: 2, users_with_multiple_connections: 0, nodes: [{ node: "edge-2" }] });
    for (const connection of onEdge2) await store.unregister(connection);
    await store.removeNode("edge-2");
  });

  it("refuses everyone else with 403 and no token with 401", async () => {
    for (const role of ["student", "teacher", "parent"]) {
      const user = role === "teacher" ? await provision(api, role) : await api.register(role);
      expect(await api.request("GET", "/v1/stats", { token: user.token })).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    }
    expect((await api.request("GET", "/v1/stats")).status).toBe(401);
  });
});

describe("GET /v1/presence", () => {
  it("shows people the caller shares a conversation with or may contact, and omits the others", async () => {
    const pupil = await api.register("student");
    const classmate = await api.register("student");
    const teacher = await teacherOf(pupil, classmate);
    await connect(teacher, "edge-1", "t1");
    await store.setStatus(teacher.id, "busy");
    await connect(classmate, "edge-1", "m1");

    const asked = `?user_ids=${classmate.id},${teacher.id},nobody`;
    // Students may not contact each other, and these two share nothing yet.
    expect((await presence(pupil.token, asked)).body.items).toEqual([{ user_id: teacher.id, status: "busy", last_seen: expect.any(String) as string }]);

    await openConversation(api, teacher.token, { type: "group", title: "class", participant_ids: [pupil.id, classmate.id] });
    const items = (await presence(pupil.token, asked)).body.items;
    expect(items.map((p) => [p.user_id, p.status])).toEqual([
      [classmate.id, "online"],
      [teacher.id, "busy"],
    ]);

    await store.unregister({ userId: classmate.id, node: "edge-1", connectionId: "m1" });
    const [justLeft] = (await presence(pupil.token, `?user_ids=${classmate.id}`)).body.items;
    expect(justLeft).toMatchObject({ user_id: classmate.id, status: "online" });
    const after = await waitFor(async () => {
      const [item] = (await presence(pupil.token, `?user_ids=${classmate.id}`)).body.items;
      return item?.status === "offline" ? item : undefined;
    });
    expect(Date.parse(after.last_seen ?? "")).toBeGreaterThan(Date.now() - 60_000);
    await store.unregister({ userId: teacher.id, node: "edge-1", connectionId: "t1" });
  });

  it("lists the caller's online contacts when no ids are given", async () => {
    const online = await api.register("student");
    const offline = await api.register("student");
    const stranger = await provision(api, "teacher");
    const leaver = await api.register("student");
    const teacher = await teacherOf(online, offline, leaver);
    const group = await openConversation(api, teacher.token, { type: "group", title: "class", participant_ids: [online.id, offline.id, leaver.id] });
    await api.request("DELETE", `/v1/conversations/${group.id}/participants/${leaver.id}`, { token: leaver.token });
    await connect(online, "edge-1", "o1");
    await connect(stranger, "edge-1", "s1");
    await connect(leaver, "edge-1", "l1");
    expect((await presence(teacher.token)).body.items.map((p) => [p.user_id, p.status])).toEqual([[online.id, "online"]]);
    expect((await presence(offline.token)).body.items.map((p) => p.user_id)).toEqual([online.id]);
    expect((await presence(leaver.token)).body.items).toEqual([]);
  });

  it("lets a service token see anyone, names an invalid parameter, and requires a token", async () => {
    const someone = await api.register("student");
    expect((await presence(await serviceToken(api), `?user_ids=${someone.id}`)).body.items).toEqual([{ user_id: someone.id, status: "offline", last_seen: null }]);
    const many = Array.from({ length: 501 }, (_, i) => `u${i}`).join(",");
    expect(await presence(someone.token, `?user_ids=${many}`)).toMatchObject({ status: 400, body: { error: { field: "user_ids" } } });
    expect((await api.request("GET", "/v1/presence")).status).toBe(401);
  });
});
