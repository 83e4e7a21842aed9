import type { Conversation, Message } from "@parley/protocol";
import { createHash, createHmac, randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness, TEST_JWT_SECRET, type RegisteredUser } from "./support/api-harness";
import { openGroup, send } from "./support/message-fixtures";

let api: ApiHarness;
let alice: RegisteredUser;
let bob: RegisteredUser;
let conversationId: string;
let messageId: string;

beforeAll(async () => {
  api = await ApiHarness.start({ MESSAGE_RATE_LIMIT: "10000", REQUEST_RATE_LIMIT: "100000", IP_REQUEST_RATE_LIMIT: "100000" });
  [alice, bob] = await Promise.all([api.register("user"), api.register("user")]);
  conversationId = await openGroup(api, alice, [bob]);
  messageId = (await send(api, alice, conversationId, "hello")).id;
});
afterAll(async () => {
  await api.close();
});

const NUL = "a\u0000b";
const INT32_OVERFLOW = 2 ** 31;

/** An HS256 token with any claims, signed as a careless identity provider would (the issuer refuses bad claims). */
function signUnchecked(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ ...claims, jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${body}.${createHmac("sha256", TEST_JWT_SECRET).update(body).digest("base64url")}`;
}

/** A refusal the protocol documents for bad input: never a 5xx, never internal_error or unavailable. */
function expectClientError(response: { status: number; body: unknown }, status = 400): void {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  const code = (response.body as { error?: { code?: string } }).error?.code;
  expect(code).not.toBe("internal_error");
  expect(code).not.toBe("unavailable");
}

describe("NUL characters never reach PostgreSQL", () => {
  it.each([
    ["message content", () => api.request("POST", `/v1/conversations/${conversationId}/messages`, { token: alice.token, body: { client_msg_id: "n1", content: NUL } })],
    ["client_msg_id", () => api.request("POST", `/v1/conversations/${conversationId}/messages`, { token: alice.token, body: { client_msg_id: NUL, content: "x" } })],
    ["an edit", () => api.request("PATCH", `/v1/messages/${messageId}`, { token: alice.token, body: { content: NUL } })],
    ["a display name", () => api.request("PATCH", "/v1/users/me", { token: alice.token, body: { display_name: NUL } })],
    ["a group title", () => api.request("POST", "/v1/conversations", { token: alice.token, body: { type: "group", title: NUL, participant_ids: [bob.id] } })],
    [
      "an attachment name",
      () =>
        api.request("POST", `/v1/conversations/${conversationId}/messages`, {
          token: alice.token,
          body: { client_msg_id: "n2", content: "x", attachments: [{ url: "https://cdn.example/a.png", name: NUL, mime_type: "image/png", size: 1 }] },
        }),
    ],
    ["a search query", () => api.request("GET", `/v1/search/messages?q=${encodeURIComponent(NUL)}`, { token: alice.token })],
    ["a user search", () => api.request("GET", `/v1/users?q=${encodeURIComponent(NUL)}`, { token: alice.token })],
    ["a login username", () => api.request("POST", "/v1/auth/login", { body: { username: NUL, password: "whatever1" } })],
    ["presence user ids", () => api.request("GET", `/v1/presence?user_ids=${encodeURIComponent(NUL)}`, { token: alice.token })],
    ["a participant id", () => api.request("POST", `/v1/conversations/${conversationId}/participants`, { token: alice.token, body: { user_ids: [NUL] } })],
    [
      "a relationship",
      async () => api.request("POST", "/v1/relationships", { token: await api.tokenFor({ sub: "crm", role: "service" }), body: { user_id: NUL, other_user_id: bob.id, kind: "friend" } }),
    ],
  ])("%s with NUL → 400", async (_name, call) => {
    expectClientError(await call());
  });

  it("a participant id with NUL in the path → 404", async () => {
    expectClientError(await api.request("DELETE", `/v1/conversations/${conversationId}/participants/${encodeURIComponent(NUL)}`, { token: alice.token }), 404);
  });

  it.each(["sub", "name", "email"] as const)("a token whose %s has NUL → 401 invalid_token", async (claim) => {
    const claims = { sub: `ext-${randomUUID()}`, role: "user", [claim]: claim === "email" ? "a\u0000@example.com" : NUL };
    const response = await api.request("GET", "/v1/users/me", { token: signUnchecked(claims) });
    expectClientError(response, 401);
    expect(response.body).toMatchObject({ error: { code: "invalid_token" } });
  });
});

describe("numbers beyond what storage holds", () => {
  it.each([
    ["before_seq", `?before_seq=${INT32_OVERFLOW}`],
    ["after_seq", `?after_seq=${INT32_OVERFLOW}`],
    ["a huge after_seq", "?after_seq=1e300"],
  ])("history %s → 400", async (_name, query) => {
    expectClientError(await api.request("GET", `/v1/conversations/${conversationId}/messages${query}`, { token: alice.token }));
  });

  it("a history cursor beyond int32 → 400 invalid_cursor", async () => {
    const response = await api.request("GET", `/v1/conversations/${conversationId}/messages?cursor=${INT32_OVERFLOW}`, { token: alice.token });
    expectClientError(response);
    expect(response.body).toMatchObject({ error: { code: "invalid_cursor" } });
  });

  it("mark read beyond int32 → 400", async () => {
    expectClientError(await api.request("POST", `/v1/conversations/${conversationId}/read`, { token: alice.token, body: { up_to_seq: INT32_OVERFLOW } }));
  });

  it("a search cursor with rank 1e308 → 400 invalid_cursor", async () => {
    const cursor = Buffer.from(JSON.stringify({ rank: 1e308, id: randomUUID() })).toString("base64url");
    const response = await api.request("GET", `/v1/search/messages?q=hello&cursor=${cursor}`, { token: alice.token });
    expectClientError(response);
    expect(response.body).toMatchObject({ error: { code: "invalid_cursor" } });
  });
});

describe("errors that carry a 4xx status stay 4xx", () => {
  it("malformed percent-encoding in a path → 400", async () => {
    expectClientError(await api.request("GET", "/v1/conversations/%E0%A4%A", { token: alice.token }));
  });

  it.each(["gzip", "deflate"])("a garbage %s body → 400, on anonymous routes too", async (encoding) => {
    for (const path of ["/v1/auth/login", `/v1/conversations/${conversationId}/messages`]) {
      const response = await fetch(`${api.baseUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "content-encoding": encoding, authorization: `Bearer ${alice.token}` },
        body: Buffer.from("this is not compressed at all"),
      });
      expectClientError({ status: response.status, body: await response.json() });
    }
  });

  it("a valid gzip body still works", async () => {
    const response = await fetch(`${api.baseUrl}/v1/conversations/${conversationId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip", authorization: `Bearer ${alice.token}` },
      body: gzipSync(JSON.stringify({ client_msg_id: "gz-1", content: "zipped" })),
    });
    expect(response.status).toBe(201);
    expect(((await response.json()) as Message).content).toBe("zipped");
  });

  it("an unsupported content encoding → 4xx, not 500", async () => {
    const response = await fetch(`${api.baseUrl}/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "br-nope" },
      body: "{}",
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
  });
});

describe("token claims used for provisioning are bounded", () => {
  it("a validly signed token with a 3,000-character sub → 401 invalid_token", async () => {
    const response = await api.request("GET", "/v1/users/me", { token: signUnchecked({ sub: "s".repeat(3000), role: "user" }) });
    expectClientError(response, 401);
    expect(response.body).toMatchObject({ error: { code: "invalid_token" } });
  });

  it.each([
    ["name", { name: "n".repeat(5000) }],
    ["email", { email: "not-an-address" }],
  ])("an oversized or malformed %s → 401 invalid_token", async (_claim, extra) => {
    const response = await api.request("GET", "/v1/users/me", { token: signUnchecked({ sub: `ext-${randomUUID()}`, role: "user", ...extra }) });
    expectClientError(response, 401);
  });

  it("external users whose subs share their first 24 characters and hash suffix all get unique usernames", async () => {
    // Three subs with one readable prefix, two of them with the same 6-hex suffix: the third collided before.
    const prefix = `tenant-${randomUUID().slice(0, 17)}`;
    const suffix = (sub: string) => createHash("sha256").update(sub).digest("hex").slice(0, 6);
    const seen = new Map<string, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; pair === undefined; i++) {
      const sub = `${prefix}${i}`;
      const other = seen.get(suffix(sub));
      if (other !== undefined) pair = [other, sub];
      else seen.set(suffix(sub), sub);
    }
    const subs = [`${prefix}first`, ...pair];
    const usernames = new Set<string>();
    for (const sub of subs) {
      const response = await api.request<{ id: string; username: string }>("GET", "/v1/users/me", { token: await api.tokenFor({ sub, role: "user" }) });
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.body.id).toBe(sub);
      usernames.add(response.body.username);
    }
    expect(usernames.size).toBe(3);
  });
});

describe("a conversation path id that is not a uuid", () => {
  it("is 404 on every conversation route", async () => {
    for (const [method, path] of [
      ["GET", "/v1/conversations/not-a-uuid"],
      ["PATCH", "/v1/conversations/not-a-uuid/settings"],
      ["POST", "/v1/conversations/not-a-uuid/participants"],
    ] as const) {
      const body = method === "GET" ? undefined : method === "PATCH" ? { muted: true } : { user_ids: [bob.id] };
      const response = await api.request<Conversation>(method, path, { token: alice.token, ...(body === undefined ? {} : { body }) });
      expectClientError(response, 404);
    }
  });
});
