import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness } from "./support/api-harness";

let api: ApiHarness;

beforeAll(async () => {
  // Loopback is the trusted proxy here, so X-Forwarded-For picks the address each attempt comes from.
  api = await ApiHarness.start({ TRUST_PROXY: "loopback", LOGIN_FAILURES_PER_ACCOUNT: "15", REGISTER_RATE_LIMIT: "3", IP_REQUEST_RATE_LIMIT: "100000" });
});
afterAll(async () => {
  await api.close();
});

let registered = 0;
/** A user registered from an address of its own (this file's registration limit is 3 per address). */
async function newUser(): Promise<{ username: string }> {
  const username = `login${++registered}x${Date.now().toString(36)}`;
  const response = await api.request("POST", "/v1/auth/register", {
    body: { username, password: "correct horse battery", display_name: username, role: "user" },
    headers: { "x-forwarded-for": `10.9.0.${registered}` },
  });
  expect(response.status).toBe(201);
  return { username };
}

const login = (username: string, password: string, address: string) =>
  api.request("POST", "/v1/auth/login", { body: { username, password }, headers: { "x-forwarded-for": address } });

describe("login throttling", () => {
  it("verifies exactly 10 of 40 parallel wrong passwords from one address, refuses the rest, then the right one", async () => {
    const user = await newUser();
    const answers = await Promise.all(Array.from({ length: 40 }, () => login(user.username, "wrong password", "192.0.2.1")));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(30);
    const right = await login(user.username, "correct horse battery", "192.0.2.1");
    expect(right).toMatchObject({ status: 429, body: { error: { code: "rate_limited" } } });
    expect(Number(right.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("the 11th sequential failure is refused (the documented number is exact)", async () => {
    const user = await newUser();
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await login(user.username, "wrong password", "192.0.2.2")).status);
    expect(statuses).toEqual([...Array<number>(10).fill(401), 429]);
  });

  it("limits one account across every address", async () => {
    const user = await newUser();
    const statuses: number[] = [];
    // 15 failures for the account from 15 addresses (one each), then a 16th address is refused.
    for (let i = 0; i < 16; i++) statuses.push((await login(user.username, "wrong password", `198.51.100.${i + 1}`)).status);
    expect(statuses.slice(0, 15).every((status) => status === 401)).toBe(true);
    expect(statuses[15]).toBe(429);
  });

  it("a success gives the attempt back: the owner is not locked out by their own logins", async () => {
    const user = await newUser();
    for (let i = 0; i < 20; i++) expect((await login(user.username, "correct horse battery", "192.0.2.3")).status).toBe(200);
  });
});

describe("registration throttling", () => {
  it("limits registrations per address before hashing", async () => {
    const register = (i: number) =>
      api.request("POST", "/v1/auth/register", {
        body: { username: `reg${i}${Date.now().toString(36)}`, password: "correct horse battery", display_name: "R", role: "user" },
        headers: { "x-forwarded-for": "203.0.113.77" },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await register(i)).status);
    expect(statuses).toEqual([201, 201, 201, 429]);
  });
});
