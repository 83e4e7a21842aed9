import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness } from "./support/api-harness";

let api: ApiHarness;

beforeAll(async () => {
  api = await ApiHarness.start({ REQUEST_RATE_LIMIT: "5", IP_REQUEST_RATE_LIMIT: "40" });
});
afterAll(async () => {
  await api.close();
});

describe("request limits", () => {
  it("answers 429 with Retry-After once a user passes the per-minute limit, other users unaffected", async () => {
    const ada = await api.register("user");
    const bob = await api.register("user");
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await api.request("GET", "/v1/users/me", { token: ada.token })).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    const limited = await api.request("GET", "/v1/users/me", { token: ada.token });
    expect(limited).toMatchObject({ status: 429, body: { error: { code: "rate_limited" } } });
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await api.request("GET", "/v1/users/me", { token: bob.token })).status).toBe(200);
  });

  it("limits one client address before authentication", async () => {
    let last = 0;
    for (let i = 0; i < 45 && last !== 429; i++) last = (await api.request("GET", "/v1/users/me")).status;
    expect(last).toBe(429);
  });
});

describe("metrics", () => {
  it("counts stored messages once, not their idempotent retries", async () => {
    const fresh = await ApiHarness.start();
    try {
      const ada = await fresh.register("user");
      const bob = await fresh.register("user");
      const conversation = await fresh.request<{ id: string }>("POST", "/v1/conversations", { token: ada.token, body: { type: "direct", participant_ids: [bob.id] } });
      const send = () => fresh.request("POST", `/v1/conversations/${conversation.body.id}/messages`, { token: ada.token, body: { client_msg_id: "once", content: "hi" } });
      expect((await send()).status).toBe(201);
      expect((await send()).status).toBe(200);
      expect(await fresh.metrics()).toMatch(/^parley_messages_sent_total\{type="text"[^}]*\} 1$/m);
    } finally {
      await fresh.close();
    }
  });
});
