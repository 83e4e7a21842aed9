import type { Page, PublicUser } from "@parley/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness } from "./support/api-harness";
import { link, provision, serviceToken } from "./support/conversation-fixtures";

let api: ApiHarness;

beforeAll(async () => {
  api = await ApiHarness.start({ PARLEY_POLICY: "school" });
});
afterAll(async () => {
  await api.close();
});

/** Teachers are never self-registered under `school`: they come from the identity provider. */
async function teacher(username: string, displayName = username): Promise<{ id: string; token: string }> {
  const token = await api.tokenFor({ sub: username, role: "teacher", name: displayName });
  const me = await api.request<{ id: string }>("GET", "/v1/users/me", { token });
  return { id: me.body.id, token };
}

const search = (token: string, query: string) => api.request<Page<PublicUser>>("GET", `/v1/users${query}`, { token });

/** Every page of a search, following next_cursor; also returns how many pages it took. */
async function searchAll(token: string, q: string, limit: number): Promise<{ usernames: string[]; pages: number }> {
  const usernames: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await search(token, `?q=${encodeURIComponent(q)}&limit=${limit}${cursor === null ? "" : `&cursor=${cursor}`}`);
    if (page.status !== 200) throw new Error(`search failed: ${page.status} ${JSON.stringify(page.body)}`);
    expect(page.body.items.length).toBeLessThanOrEqual(limit);
    usernames.push(...page.body.items.map((u) => u.username));
    cursor = page.body.next_cursor;
    pages++;
  } while (cursor !== null);
  return { usernames, pages };
}

describe("GET /v1/users", () => {
  it("matches username or display name case-insensitively, by username, never the caller", async () => {
    const me = await teacher("zq1_me");
    await teacher("zq1b", "Bea");
    await teacher("zq1a", "Abe");
    const pupil = await api.register("student", { username: "plainname", display_name: "The ZQ1 Student" });
    await link(api, await serviceToken(api), me.id, pupil.id, "class");
    const found = await search(me.token, "?q=Zq1");
    expect(found.status).toBe(200);
    expect(found.body.items.map((u) => u.username)).toEqual(["plainname", "zq1a", "zq1b"]);
    expect(found.body.items[0]).toEqual({ id: expect.any(String) as string, username: "plainname", display_name: "The ZQ1 Student", role: "student" });
    expect(found.body.next_cursor).toBeNull();
  });

  it("treats % and _ in q as plain characters", async () => {
    const me = await teacher("pct0");
    await teacher("pct1", "Quite 100% sure");
    await teacher("pct2", "Quite 1000 sure");
    const percent = await search(me.token, `?q=${encodeURIComponent("0% s")}&limit=100`);
    expect(percent.body.items.map((u) => u.display_name)).toEqual(["Quite 100% sure"]);
    const underscore = await search(me.token, `?q=${encodeURIComponent("quite 10_")}&limit=100`);
    expect(underscore.body.items).toEqual([]);
  });

  it("shows a student only the people the policy lets them contact, across correct pages", async () => {
    const me = await api.register("student", { username: "pg7s0" });
    for (const n of [1, 2, 3, 4, 5]) await api.register("student", { username: `pg7s${n}` });
    const teachers = [await teacher("pg7t1"), await teacher("pg7t2"), await teacher("pg7t3")];
    const parent = await api.register("parent", { username: "pg7p1" });
    await api.register("parent", { username: "pg7p2" });
    await provision(api, "admin", "pg7admin");
    const service = await serviceToken(api);
    // The student is in the classes of the first two teachers only.
    for (const t of teachers.slice(0, 2)) await link(api, service, t.id, me.id, "class");

    const before = await searchAll(me.token, "pg7", 2);
    expect(before).toEqual({ usernames: ["pg7admin", "pg7t1", "pg7t2"], pages: 2 });

    await link(api, service, parent.id, me.id, "guardian");
    expect((await searchAll(me.token, "pg7", 3)).usernames).toEqual(["pg7admin", "pg7p1", "pg7t1", "pg7t2"]);
    // The link works from the parent's side too, and only for that child; teachers reach a parent through their own class link.
    expect((await searchAll(parent.token, "pg7", 10)).usernames).toEqual(["pg7admin", "pg7s0"]);
  });

  it("shows a service token everyone", async () => {
    for (const role of ["student", "parent"]) await api.register(role, { username: `sv9${role}` });
    await teacher("sv9teacher");
    const all = await searchAll(await serviceToken(api), "sv9", 2);
    expect(all.usernames).toEqual(["sv9parent", "sv9student", "sv9teacher"]);
  });

  it("names the invalid parameter, refuses a forged cursor, and requires a token", async () => {
    const me = await api.register("student");
    expect(await search(me.token, "?limit=0")).toMatchObject({ status: 400, body: { error: { field: "limit" } } });
    expect(await search(me.token, `?q=${"x".repeat(101)}`)).toMatchObject({ status: 400, body: { error: { field: "q" } } });
    expect(await search(me.token, "?cursor=%%%")).toMatchObject({ status: 400, body: { error: { code: "invalid_cursor" } } });
    expect(await search(me.token, `?cursor=${Buffer.from("[1]").toString("base64url")}`)).toMatchObject({ status: 400, body: { error: { code: "invalid_cursor" } } });
    expect((await api.request("GET", "/v1/users")).status).toBe(401);
  });
});
