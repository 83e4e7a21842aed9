import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness } from "./support/api-harness";

let api: ApiHarness;

beforeAll(async () => {
  api = await ApiHarness.start({ ALLOWED_ORIGINS: "https://app.example.com" });
});
afterAll(async () => {
  await api.close();
});

describe("browser clients (CORS)", () => {
  it("answers a preflight from an allowed origin with the methods and headers a client needs", async () => {
    const response = await fetch(`${api.baseUrl}/v1/conversations`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(response.headers.get("access-control-allow-methods")).toContain("PATCH");
    expect(response.headers.get("access-control-allow-headers")).toContain("authorization");
  });

  it("lets an allowed origin read responses, errors included, and Retry-After", async () => {
    const response = await fetch(`${api.baseUrl}/v1/users/me`, { headers: { origin: "https://app.example.com" } });
    expect(response.status).toBe(401);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(response.headers.get("access-control-expose-headers")).toContain("retry-after");
  });

  it("gives another origin no CORS grant", async () => {
    const response = await fetch(`${api.baseUrl}/v1/users/me`, { headers: { origin: "https://evil.example.com" } });
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });
});
