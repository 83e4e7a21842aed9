import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness, type RegisteredUser } from "./support/api-harness";
import { openGroup } from "./support/message-fixtures";

let api: ApiHarness;
let alice: RegisteredUser;
let bob: RegisteredUser;
const lines: string[] = [];

beforeAll(async () => {
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  api = await ApiHarness.start({}, { logs });
  [alice, bob] = await Promise.all([api.register("user"), api.register("user")]);
  // Every further insert into users or messages fails inside PostgreSQL, as a broken constraint or trigger would.
  await api.node.database.sql.unsafe(`
    CREATE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test' USING ERRCODE = 'P0001'; END $$;
    CREATE TRIGGER refuse_users BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION refuse_insert();
    CREATE TRIGGER refuse_messages BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_insert();
  `);
});
afterAll(async () => {
  await api.close();
});

function errorLines(): string[] {
  return lines.filter((line) => (JSON.parse(line) as { level?: string }).level === "error");
}

describe("a database error in the log", () => {
  it("names the SQLSTATE and the route, never the password hash, the e-mail or the username", async () => {
    const password = "correct horse battery staple";
    const email = "leaky.person@example.org";
    const username = "leakyusername";
    const response = await api.request("POST", "/v1/auth/register", { body: { username, password, display_name: "Leaky Person", role: "user", email } });
    expect(response.status).toBe(500);
    const logged = errorLines().join("\n");
    expect(logged).toContain("P0001");
    expect(logged).toContain("/v1/auth/register");
    for (const secret of ["$argon2id$", password, email, username, "Leaky Person"]) expect(logged).not.toContain(secret);
  });

  it("never carries message content", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    const content = "the launch code is 0000-SWORDFISH";
    const response = await api.request("POST", `/v1/conversations/${conversationId}/messages`, { token: alice.token, body: { client_msg_id: "leak-1", content } });
    expect(response.status).toBe(500);
    const logged = errorLines().join("\n");
    expect(logged).toContain(`/v1/conversations/${conversationId}/messages`);
    expect(logged).not.toContain("SWORDFISH");
    expect(logged).not.toContain("leak-1");
  });
});
