import {
  addParticipantsBody,
  conversationListQuery,
  conversationSettingsBody,
  createConversationBody,
  editMessageBody,
  ERRORS,
  historyQuery,
  isErrorCode,
  loginBody,
  presenceQuery,
  readBody,
  registerBody,
  relationshipBody,
  searchQuery,
  sendMessageBody,
  updateMeBody,
  userSearchQuery,
} from "@parley/protocol";
import { hostileValue, requestJson, validOrHostile } from "@parley/testing";
import fc from "fast-check";
import type { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness, type RegisteredUser } from "./support/api-harness";
import { openGroup, send } from "./support/message-fixtures";

// Every REST route, fed values generated from its protocol schemas plus hostile mutations: the API answers
// only documented statuses with documented codes, never a 5xx, internal_error or unavailable.

let api: ApiHarness;
let alice: RegisteredUser;
let bob: RegisteredUser;
let serviceToken: string;
let conversationId: string;
let messageId: string;

beforeAll(async () => {
  api = await ApiHarness.start({
    MESSAGE_RATE_LIMIT: "1000000",
    REQUEST_RATE_LIMIT: "1000000",
    IP_REQUEST_RATE_LIMIT: "1000000",
    REGISTER_RATE_LIMIT: "1000000",
    MAX_MESSAGE_LENGTH: "2000",
  });
  [alice, bob] = await Promise.all([api.register("user"), api.register("user")]);
  serviceToken = await api.tokenFor({ sub: "property-service", role: "service" });
  conversationId = await openGroup(api, alice, [bob]);
  messageId = (await send(api, alice, conversationId, "hello world")).id;
});
afterAll(async () => {
  await api.close();
});

const RUNS = Number(process.env.PARLEY_PROPERTY_RUNS ?? "120");

/** Percent-encodes like a client; a lone surrogate (which encodeURIComponent refuses) goes out as invalid UTF-8. */
function encode(value: string): string {
  return value.split(/[\ud800-\udfff]/u).map(encodeURIComponent).join("%ED%A0%80");
}

/** A path parameter: a real id, another well-formed one, or anything a client could put in a path. */
const pathParam = (known: () => string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constant(null).map(() => encode(known())),
    fc.uuid(),
    fc.string({ maxLength: 60 }).map((s) => encode(s)),
    fc.constantFrom("%E0%A4%A", "%00", "%", "a%2Fb", "..", "%C0%AF", "x".repeat(3_000), "%FF%FE"),
  );

/** Query values as a client would send them: strings, repeated keys for arrays, and raw hostile bits. */
function queryString(value: unknown): string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `?${encode(String(value))}`;
  const parts: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    for (const one of Array.isArray(item) ? item : [item]) {
      const text = typeof one === "string" ? one : typeof one === "object" && one !== null ? JSON.stringify(one) : String(one);
      parts.push(`${encode(key)}=${encode(text)}`);
    }
  }
  return `?${parts.join("&")}`;
}
const query = (schema: z.ZodType): fc.Arbitrary<string> =>
  fc.oneof({ weight: 4, arbitrary: validOrHostile(schema).map(queryString) }, { weight: 1, arbitrary: fc.constantFrom("?limit=%E0%A4%A", "?cursor[a]=b", "?q=%00", "?limit=1e400&limit=2") });

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

function call(method: string, path: string, token: string | undefined, body?: unknown): Promise<Answer> {
  return requestJson(method, `${api.baseUrl}${path}`, { token, body });
}

/** Success, or an error whose code is in the table with exactly this status. */
function documented(answer: Answer): boolean {
  if (answer.status < 400) return answer.status >= 200;
  if (answer.status >= 500) return false;
  const code = (answer.body as { error?: { code?: unknown } } | undefined)?.error?.code;
  if (typeof code !== "string" || !isErrorCode(code)) return false;
  return ERRORS[code].status === answer.status;
}

async function check(method: string, path: string, token: string | undefined, body?: unknown): Promise<void> {
  const answer = await call(method, path, token, body);
  if (!documented(answer)) throw new Error(`${method} ${path} ${(JSON.stringify(body) as string | undefined)?.slice(0, 300) ?? ""} → ${answer.status} ${JSON.stringify(answer.body)}`);
}

const asserted = (arbitrary: fc.Arbitrary<() => Promise<void>>, runs = RUNS) => fc.assert(fc.asyncProperty(arbitrary, (run) => run()), { numRuns: runs });
const withBody = (schema: z.ZodType) => fc.oneof({ weight: 5, arbitrary: validOrHostile(schema) }, { weight: 1, arbitrary: hostileValue() });

describe("every REST route answers hostile input with a documented status", () => {
  it("accounts", async () => {
    await asserted(withBody(registerBody).map((body) => () => check("POST", "/v1/auth/register", undefined, body)), Math.ceil(RUNS / 3));
    await asserted(withBody(loginBody).map((body) => () => check("POST", "/v1/auth/login", undefined, body)), Math.ceil(RUNS / 3));
    await asserted(withBody(updateMeBody).map((body) => () => check("PATCH", "/v1/users/me", alice.token, body)));
    await asserted(query(userSearchQuery).map((q) => () => check("GET", `/v1/users${q}`, alice.token)));
    await asserted(fc.stringMatching(/^[!-~]{0,300}$/).map((token) => () => check("GET", "/v1/users/me", token)));
  });

  it("conversations and membership", async () => {
    await asserted(withBody(createConversationBody).map((body) => () => check("POST", "/v1/conversations", alice.token, body)));
    await asserted(query(conversationListQuery).map((q) => () => check("GET", `/v1/conversations${q}`, alice.token)));
    const id = pathParam(() => conversationId);
    await asserted(id.map((c) => () => check("GET", `/v1/conversations/${c}`, alice.token)));
    await asserted(fc.tuple(id, withBody(conversationSettingsBody)).map(([c, body]) => () => check("PATCH", `/v1/conversations/${c}/settings`, alice.token, body)));
    await asserted(fc.tuple(id, withBody(addParticipantsBody)).map(([c, body]) => () => check("POST", `/v1/conversations/${c}/participants`, alice.token, body)));
    await asserted(fc.tuple(id, pathParam(() => bob.id)).map(([c, u]) => () => check("DELETE", `/v1/conversations/${c}/participants/${u}`, alice.token)));
    await asserted(id.map((c) => () => check("POST", `/v1/conversations/${c}/restore`, alice.token)));
  });

  it("messages, read state and search", async () => {
    const id = pathParam(() => conversationId);
    await asserted(fc.tuple(id, withBody(sendMessageBody)).map(([c, body]) => () => check("POST", `/v1/conversations/${c}/messages`, alice.token, body)));
    await asserted(fc.tuple(id, query(historyQuery)).map(([c, q]) => () => check("GET", `/v1/conversations/${c}/messages${q}`, alice.token)));
    const message = pathParam(() => messageId);
    await asserted(fc.tuple(message, withBody(editMessageBody)).map(([m, body]) => () => check("PATCH", `/v1/messages/${m}`, alice.token, body)));
    await asserted(message.map((m) => () => check("DELETE", `/v1/messages/${m}`, bob.token)));
    await asserted(fc.tuple(id, withBody(readBody)).map(([c, body]) => () => check("POST", `/v1/conversations/${c}/read`, bob.token, body)));
    await asserted(query(searchQuery).map((q) => () => check("GET", `/v1/search/messages${q}`, alice.token)));
  });

  it("relationships, presence, statistics and the rest", async () => {
    await asserted(withBody(relationshipBody).map((body) => () => check("POST", "/v1/relationships", serviceToken, body)));
    await asserted(withBody(relationshipBody).map((body) => () => check("DELETE", "/v1/relationships", serviceToken, body)));
    await asserted(query(presenceQuery).map((q) => () => check("GET", `/v1/presence${q}`, alice.token)));
    await asserted(fc.constantFrom("/v1/unread", "/v1/stats", "/v1/openapi.json", "/v1/nope", "/v1/conversations/%E0%A4%A/messages").map((path) => () => check("GET", path, alice.token)), 20);
    await asserted(fc.constantFrom("/v1/auth/logout").map((path) => async () => check("POST", path, await api.tokenFor({ sub: bob.id, role: "user" }))), 5);
  });

  it("the node is still ready and serves a normal request afterwards", async () => {
    expect((await call("GET", "/readyz", undefined)).status).toBe(200);
    expect((await call("GET", "/v1/users/me", alice.token)).status).toBe(200);
  });
});
