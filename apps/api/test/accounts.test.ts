import { describe, expect, it } from "vitest";
import { api, useApiPerFile } from "./support/api-per-file";

useApiPerFile();

describe("accounts", () => {
  it("registers, logs in and reads the caller", async () => {
    const registered = await api.request<{ user: { id: string; username: string; email_notifications: boolean }; access_token: string }>("POST", "/v1/auth/register", {
      body: { username: "Ada", password: "correct horse battery", display_name: "Ada L.", role: "user", email: "ada@example.test" },
    });
    expect(registered.status).toBe(201);
    expect(registered.body.user).toMatchObject({ username: "ada", email_notifications: true });
    const login = await api.request<{ access_token: string }>("POST", "/v1/auth/login", { body: { username: "ADA", password: "correct horse battery" } });
    expect(login.status).toBe(200);
    const me = await api.request<{ id: string; display_name: string }>("GET", "/v1/users/me", { token: login.body.access_token });
    expect(me.body).toMatchObject({ id: registered.body.user.id, display_name: "Ada L." });
  });

  it("refuses a taken username with 409", async () => {
    await api.register("user", { username: "grace" });
    const again = await api.request("POST", "/v1/auth/register", { body: { username: "Grace", password: "another password", display_name: "G", role: "user" } });
    expect(again).toMatchObject({ status: 409, body: { error: { code: "username_taken", field: "username" } } });
  });

  it("names the invalid field", async () => {
    const response = await api.request("POST", "/v1/auth/register", { body: { username: "x", password: "correct horse battery", display_name: "X", role: "user" } });
    expect(response).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field: "username" } } });
  });

  it("refuses roles the policy does not let people pick", async () => {
    const response = await api.request("POST", "/v1/auth/register", { body: { username: "sneaky", password: "correct horse battery", display_name: "S", role: "admin" } });
    expect(response).toMatchObject({ status: 403, body: { error: { code: "forbidden", field: "role" } } });
  });

  it("answers 400 for a body that is not JSON and 413 for one too large", async () => {
    const bad = await api.request("POST", "/v1/auth/login", { body: "{not json" });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    const huge = await api.request("POST", "/v1/auth/login", { body: { username: "a", password: "x".repeat(300 * 1024) } });
    expect(huge).toMatchObject({ status: 413, body: { error: { code: "payload_too_large" } } });
  });

  it("refuses a wrong password and throttles repeated failures", async () => {
    const user = await api.register("user");
    const wrong = await api.request("POST", "/v1/auth/login", { body: { username: user.username, password: "wrong password" } });
    expect(wrong).toMatchObject({ status: 401, body: { error: { code: "invalid_credentials" } } });
    let last = wrong;
    for (let i = 0; i < 12 && last.status !== 429; i++) last = await api.request("POST", "/v1/auth/login", { body: { username: user.username, password: "wrong password" } });
    expect(last.status).toBe(429);
    expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
    const right = await api.request("POST", "/v1/auth/login", { body: { username: user.username, password: "correct horse battery" } });
    expect(right.status).toBe(429);
  });

  it("refuses missing and bad tokens with 401", async () => {
    expect((await api.request("GET", "/v1/users/me")).body).toMatchObject({ error: { code: "unauthorized" } });
    expect(await api.request("GET", "/v1/users/me", { token: "not.a.jwt" })).toMatchObject({ status: 401, body: { error: { code: "invalid_token" } } });
  });

  it("logout revokes the token", async () => {
    const user = await api.register("user");
    expect((await api.request("POST", "/v1/auth/logout", { token: user.token })).status).toBe(204);
    expect(await api.request("GET", "/v1/users/me", { token: user.token })).toMatchObject({ status: 401, body: { error: { code: "token_revoked" } } });
  });

  it("updates the caller's profile and e-mail opt-out", async () => {
    const user = await api.register("user");
    const patched = await api.request("PATCH", "/v1/users/me", { token: user.token, body: { display_name: "New Name", email: "n@example.test", email_notifications: false } });
    expect(patched).toMatchObject({ status: 200, body: { display_name: "New Name", email: "n@example.test", email_notifications: false } });
    const bad = await api.request("PATCH", "/v1/users/me", { token: user.token, body: { email: "nope" } });
    expect(bad).toMatchObject({ status: 400, body: { error: { field: "email" } } });
  });

  it("provisions an unknown subject of an external token on first use", async () => {
    const token = await api.tokenFor({ sub: "auth0|12345", role: "user", name: "Ext User", email: "ext@example.test" });
    const me = await api.request("GET", "/v1/users/me", { token });
    expect(me).toMatchObject({ status: 200, body: { id: "auth0|12345", display_name: "Ext User", email: "ext@example.test" } });
    const again = await api.request("GET", "/v1/users/me", { token });
    expect(again.body).toEqual(me.body);
  });

  it("serves the OpenAPI 3.1 document without a token (its operations: api-documents.test.ts)", async () => {
    const doc = await api.request<{ openapi: string; paths: Record<string, unknown> }>("GET", "/v1/openapi.json");
    expect(doc).toMatchObject({ status: 200, body: { openapi: "3.1.0" } });
  });

  it("answers health and readiness on the public port, metrics only on the ops port", async () => {
    expect((await api.request("GET", "/healthz")).status).toBe(200);
    expect(await api.request("GET", "/readyz")).toMatchObject({ status: 200, body: { status: "ready" } });
    expect(await api.request("GET", "/metrics")).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    const metrics = await api.metrics();
    expect(metrics).toContain("parley_http_request_duration_seconds");
    expect(metrics).toContain("parley_outbox_backlog");
    expect((await fetch(`${api.opsUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${api.opsUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${api.opsUrl}/v1/openapi.json`)).status).toBe(404);
  });
});
