import { emailDeduplicationId, latestPos, readUserStream } from "@parley/bus";
import { schema } from "@parley/db";
import { conversation, message, page, type Message } from "@parley/protocol";
import { startAppProcess, waitFor, type AppProcess } from "@parley/testing";
import { count, eq } from "drizzle-orm";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { WorkerNode } from "../src/worker-node";
import { TEST_APP_URL, TestClock, WorkerHarness } from "./support/worker-harness";

const DAY = 86_400_000;
const JWT_SECRET = "worker-test-secret-that-is-long-enough-0123456789";
const API_EMAIL_DELAY = "3s";

let harness: WorkerHarness;
let api: AppProcess;
let worker: WorkerNode;
const clock = new TestClock();

interface Account {
  readonly id: string;
  readonly token: string;
  readonly email: string | undefined;
}

async function call(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
}

let counter = 0;
async function register(name: string, withEmail = true): Promise<Account> {
  const username = `${name.toLowerCase()}${++counter}x${Math.random().toString(36).slice(2, 7)}`;
  const email = withEmail ? `${username}@example.test` : undefined;
  const response = await call("POST", "/v1/auth/register", undefined, {
    username,
    password: "correct horse battery",
    display_name: name,
    role: "user",
    ...(email === undefined ? {} : { email }),
  });
  expect(response.status).toBe(201);
  const registered = z.object({ user: z.object({ id: z.string() }), access_token: z.string() }).parse(response.body);
  return { id: registered.user.id, token: registered.access_token, email };
}

async function group(owner: Account, members: readonly Account[], title: string): Promise<string> {
  const response = await call("POST", "/v1/conversations", owner.token, { type: "group", title, participant_ids: members.map((m) => m.id) });
  expect(response.status).toBe(201);
  return conversation.parse(response.body).id;
}

async function send(sender: Account, conversationId: string, content: string): Promise<Message> {
  const response = await call("POST", `/v1/conversations/${conversationId}/messages`, sender.token, { client_msg_id: `c-${++counter}`, content });
  expect(response.status).toBe(201);
  return message.parse(response.body);
}

async function history(reader: Account, conversationId: string): Promise<Message[]> {
  const response = await call("GET", `/v1/conversations/${conversationId}/messages?limit=100`, reader.token);
  expect(response.status).toBe(200);
  return page(message).parse(response.body).items;
}

async function listed(reader: Account, archived: boolean): Promise<string[]> {
  const response = await call("GET", `/v1/conversations?limit=100${archived ? "&archived=true" : ""}`, reader.token);
  expect(response.status).toBe(200);
  return page(conversation).parse(response.body).items.map((c) => c.id);
}

async function rowCounts(conversationId: string): Promise<{ hot: number; archived: number }> {
  const [hot] = await harness.db.db.select({ n: count() }).from(schema.messages).where(eq(schema.messages.conversationId, conversationId));
  const [archived] = await harness.db.db.select({ n: count() }).from(schema.archivedMessages).where(eq(schema.archivedMessages.conversationId, conversationId));
  return { hot: hot?.n ?? 0, archived: archived?.n ?? 0 };
}

beforeAll(async () => {
  // Addresses are trusted here (confirmation has its own tests): this file is about notifications.
  harness = await WorkerHarness.start({ EMAIL_DELAY: API_EMAIL_DELAY, EMAIL_CONFIRMATION: "off" });
  api = await startAppProcess({
    name: "api",
    cwd: fileURLToPath(new URL("../../api", import.meta.url)),
    env: {
      DATABASE_URL: harness.env.DATABASE_URL!,
      REDIS_URL: harness.env.REDIS_URL!,
      REDIS_KEY_PREFIX: harness.env.REDIS_KEY_PREFIX!,
      JWT_SECRET,
      EMAIL_DELAY: API_EMAIL_DELAY,
      PUBLIC_APP_URL: TEST_APP_URL,
      PARLEY_POLICY: "open",
      EMAIL_CONFIRMATION: "off",
      LOG_LEVEL: "warn",
      NODE_ENV: "test",
    },
  });
  worker = await harness.startNode({ clock });
});

afterAll(async () => {
  await api.stop();
  await harness.close();
});

describe("offline e-mail through the API", () => {
  it("a burst of 10 messages makes one e-mail to the offline recipient; the sender, opted-out and muted members get none", async () => {
    const [alice, bob, carol, dave] = [await register("Alice"), await register("Bob"), await register("Carol"), await register("Dave")];
    expect((await call("PATCH", "/v1/users/me", carol.token, { email_notifications: false })).status).toBe(200);
    const id = await group(alice, [bob, carol, dave], "Field trip <Friday>");
    expect((await call("PATCH", `/v1/conversations/${id}/settings`, dave.token, { muted: true })).status).toBe(200);

    for (let i = 1; i <= 9; i++) await send(alice, id, `Reminder number ${i}`);
    await send(alice, id, `<a href="https://evil.test">click</a> & "quotes"`);

    // Bob's job is waiting out EMAIL_DELAY; nobody else's was enqueued.
    const jobOf = (user: Account) => worker.queues.email.getDeduplicationJobId(emailDeduplicationId({ user_id: user.id, conversation_id: id }));
    await waitFor(async () => (await jobOf(bob)) ?? undefined, { timeout: 5_000, message: "no e-mail job for Bob" });
    expect(await jobOf(alice)).toBeFalsy();
    expect(await jobOf(carol)).toBeFalsy();
    expect(await jobOf(dave)).toBeFalsy();

    const [mail] = await waitFor(() => (harness.smtp.to(bob.email!).length > 0 ? harness.smtp.to(bob.email!) : undefined), { timeout: 10_000 });
    // The job has finished (its deduplication key is gone) and nothing else is queued: that one e-mail was all.
    await waitFor(async () => !(await jobOf(bob)) && (await worker.queues.email.getJobCountByTypes("waiting", "delayed", "active")) === 0, { timeout: 5_000 });
    expect(harness.smtp.to(bob.email!)).toHaveLength(1);
    expect(mail!.subject).toContain("10 new messages from Alice");
    expect(mail!.text).toContain(`${TEST_APP_URL}/conversations/${id}`);
    expect(mail!.text).toContain("Reminder number 9");
    const html = typeof mail!.html === "string" ? mail!.html : "";
    expect(html).toContain("&lt;a href=&quot;https://evil.test&quot;&gt;click&lt;/a&gt; &amp; &quot;quotes&quot;");
    expect(html).toContain("Field trip &lt;Friday&gt;");
    expect(html).not.toContain("evil.test\"");
    for (const other of [alice, carol, dave]) expect(harness.smtp.to(other.email!)).toHaveLength(0);
  });
});

describe("archival with the API", () => {
  it("archived conversations leave the default list, stay readable, and restore brings back every message in order", async () => {
    const [alice, bob] = [await register("Alice"), await register("Bob")];
    await worker.archiver.run(); // older conversations of this file out of the way
    const id = await group(alice, [bob], "History");
    const sent: Message[] = [];
    for (let i = 1; i <= 30; i++) sent.push(await send(i % 2 === 0 ? bob : alice, id, `history ${i}`));
    const since = await latestPos(harness.client, harness.env.REDIS_KEY_PREFIX!, bob.id);

    clock.set(new Date(Date.now() + 91 * DAY));
    expect((await worker.archiver.run()).archived).toBeGreaterThanOrEqual(1);
    expect(await rowCounts(id)).toEqual({ hot: 0, archived: 30 });

    expect(await listed(bob, false)).not.toContain(id);
    expect(await listed(bob, true)).toContain(id);
    expect((await history(bob, id)).map((m) => [m.id, m.seq])).toEqual(sent.map((m) => [m.id, m.seq]));
    // Connected participants hear about it: conversation_updated in their stream, published by the API's relay.
    const update = await waitFor(
      async () => {
        const replay = await readUserStream(harness.client, harness.env.REDIS_KEY_PREFIX!, bob.id, since);
        return replay.ok ? replay.events.find((e) => e.event.type === "conversation_updated") : undefined;
      },
      { timeout: 5_000, message: "no conversation_updated for Bob" },
    );
    expect(update.event).toMatchObject({ type: "conversation_updated", conversation: { id, archived: true } });

    const restored = await call("POST", `/v1/conversations/${id}/restore`, bob.token);
    expect(restored.status).toBe(200);
    expect(conversation.parse(restored.body)).toMatchObject({ id, archived: false, archived_at: null, last_seq: 30 });
    expect(await rowCounts(id)).toEqual({ hot: 30, archived: 0 });
    expect((await history(bob, id)).map((m) => [m.id, m.seq, m.content])).toEqual(sent.map((m) => [m.id, m.seq, m.content]));
    expect(await listed(bob, false)).toContain(id);
    clock.set(new Date());
  });

  it("a message to an archived conversation restores it, seqs unchanged", async () => {
    const [alice, bob] = [await register("Alice"), await register("Bob")];
    const id = await group(alice, [bob], "Revived");
    const sent: Message[] = [];
    for (let i = 1; i <= 5; i++) sent.push(await send(alice, id, `before ${i}`));
    clock.set(new Date(Date.now() + 91 * DAY));
    await worker.archiver.run();
    clock.set(new Date());
    expect(await rowCounts(id)).toEqual({ hot: 0, archived: 5 });
    expect(await listed(alice, false)).not.toContain(id);

    const next = await send(bob, id, "anyone still here?");
    expect(next.seq).toBe(6);
    expect(await rowCounts(id)).toEqual({ hot: 6, archived: 0 });
    expect(await listed(alice, false)).toContain(id);
    expect((await history(alice, id)).map((m) => [m.id, m.seq])).toEqual([...sent, next].map((m) => [m.id, m.seq]));
  });
});
