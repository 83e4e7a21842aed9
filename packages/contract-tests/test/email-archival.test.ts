import { randomBytes } from "node:crypto";
import { waitFor } from "@parley/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./support/cluster-suite";
import { conversation, conversationUpdatedFrame, message, page } from "./support/contract";
import { shape, type User } from "./support/rest";
import { SmtpInbox } from "@parley/testing/smtp-inbox";

// The E-mail and Archival sections: the API, one edge and the worker (sending to an SMTP server in this process).
const APP_URL = "https://app.contract.test";
const ARCHIVE_AFTER_MS = 3_000;

let inbox: SmtpInbox;

beforeAll(async () => {
  inbox = await SmtpInbox.start();
});
afterAll(async () => {
  await inbox.close();
});
const suite = useCluster(() => ({
  edges: 1,
  api: { EMAIL_DELAY: "1s", PUBLIC_APP_URL: APP_URL },
  worker: { SMTP_URL: inbox.url, EMAIL_DELAY: "1s", PUBLIC_APP_URL: APP_URL, ARCHIVE_AFTER: `${ARCHIVE_AFTER_MS}ms`, ARCHIVE_CRON: "* * * * * *" },
}));
const { rest, connect } = suite;

const CONFIRM_SUBJECT = "Confirm your e-mail address";

/** Offline notifications to an address (the confirmation mail left out). */
function notificationsTo(address: string) {
  return inbox.to(address).filter((mail) => mail.subject !== CONFIRM_SUBJECT);
}

/** The token of the confirmation link mailed to an address (EMAIL_CONFIRMATION=required). */
async function confirmationToken(address: string): Promise<string> {
  const mail = await waitFor(() => inbox.to(address).find((m) => m.subject === CONFIRM_SUBJECT), { timeout: 15_000, message: "the confirmation e-mail" });
  const token = new RegExp(`${APP_URL}/confirm-email\\?token=([\\w-]+)`).exec(mail.text ?? "")?.[1];
  if (token === undefined) throw new Error("no confirmation link in the mail");
  return token;
}

/** A user whose address is confirmed through the mailed link, as a real user would. */
async function registerWithEmail(): Promise<User & { email: string }> {
  const email = `m${randomBytes(5).toString("hex")}@example.test`;
  const user = await rest.register({ email });
  const confirmed = await rest.post("/v1/auth/confirm-email", undefined, { token: await confirmationToken(email) });
  expect(confirmed.status).toBe(200);
  return { ...user, email };
}

/** Completed runs of a worker queue, from the worker's own /metrics. */
async function completedRuns(queue: string): Promise<number> {
  const text = await (await fetch(`${suite.cluster.worker?.url ?? ""}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`parley_jobs_completed_total{`) && l.includes(`queue="${queue}"`));
  return Number(line?.split(" ").at(-1) ?? 0);
}

async function listIds(user: User, archived: boolean): Promise<string[]> {
  const reply = await rest.get("/v1/conversations", user.token, { archived, limit: 100 });
  return shape(page(conversation), reply.body).items.map((c) => c.id);
}

describe("e-mail", () => {
  it("mails an offline recipient once per conversation, EMAIL_DELAY after, with the link; never when read, online, muted or opted out", async () => {
    const sender = await rest.register();
    const [offline, online, optedOut, reader, muted] = await Promise.all([registerWithEmail(), registerWithEmail(), registerWithEmail(), registerWithEmail(), registerWithEmail()]);

    // The cases that must not mail go first: their e-mails would be due before the offline one's.
    await connect(online);
    await rest.send(sender, await rest.direct(sender, online), "you are online");
    await rest.patch("/v1/users/me", optedOut.token, { email_notifications: false });
    await rest.send(sender, await rest.direct(sender, optedOut), "you opted out");
    const readId = await rest.direct(sender, reader);
    const read = await rest.send(sender, readId, "you will read this");
    await rest.post(`/v1/conversations/${readId}/read`, reader.token, { up_to_seq: read.seq });
    const mutedId = await rest.direct(sender, muted);
    await rest.patch(`/v1/conversations/${mutedId}/settings`, muted.token, { muted: true });
    await rest.send(sender, mutedId, "you muted this");

    const conversationId = await rest.direct(sender, offline);
    await rest.send(sender, conversationId, "first <b>bold</b> & co");
    await rest.send(sender, conversationId, "second message");
    const [mail] = await waitFor(() => notificationsTo(offline.email).length > 0 && notificationsTo(offline.email), { timeout: 15_000, message: "the offline e-mail" });
    const link = `${APP_URL}/conversations/${conversationId}`;
    expect(mail?.text).toContain(link);
    expect(mail?.text).toContain("second message");
    expect(mail?.text).toMatch(/\b2\b/);
    expect(mail?.html).toEqual(expect.any(String));
    expect(mail?.html).toContain(link);
    expect(mail?.html).toContain("&lt;b&gt;bold&lt;/b&gt;");
    expect(mail?.html).not.toContain("<b>bold</b>");

    // A later message is mailed on its own: nothing is mailed twice.
    await rest.send(sender, conversationId, "third message");
    const mails = await waitFor(() => notificationsTo(offline.email).length > 1 && notificationsTo(offline.email), { timeout: 15_000, message: "the second e-mail" });
    expect(mails).toHaveLength(2);
    expect(mails[1]?.text).toContain("third message");
    expect(mails[1]?.text).not.toContain("second message");

    for (const user of [online, optedOut, reader, muted]) expect(notificationsTo(user.email), user.email).toEqual([]);
  });

  it("mails nothing to an unconfirmed address, and does once its owner followed the link (GET /v1/users/me shows email_confirmed)", async () => {
    const sender = await rest.register();
    const email = `u${randomBytes(5).toString("hex")}@example.test`;
    const unconfirmed = await rest.register({ email });
    expect((await rest.get("/v1/users/me", unconfirmed.token)).body).toMatchObject({ email, email_confirmed: false });
    const conversationId = await rest.direct(sender, unconfirmed);
    const runsBefore = await completedRuns("email");
    await rest.send(sender, conversationId, "while unconfirmed");
    const token = await confirmationToken(email);
    // The notification job of that message has run (and found the address unconfirmed) once the worker reports it.
    await waitFor(async () => (await completedRuns("email")) > runsBefore, { timeout: 15_000, message: "the skipped notification" });
    expect(notificationsTo(email)).toEqual([]);
    expect((await rest.post("/v1/auth/confirm-email", undefined, { token })).status).toBe(200);
    expect((await rest.post("/v1/auth/confirm-email", undefined, { token })).body).toMatchObject({ error: { code: "confirmation_invalid" } });
    expect((await rest.get("/v1/users/me", unconfirmed.token)).body).toMatchObject({ email_confirmed: true });
    await rest.send(sender, conversationId, "after confirming");
    const [mail] = await waitFor(() => notificationsTo(email).length > 0 && notificationsTo(email), { timeout: 15_000, message: "the e-mail after confirming" });
    expect(mail?.text).toContain("after confirming");
  });
});

describe("archival", () => {
  it("archives idle conversations for every participant; history stays readable; restore brings it back, seqs unchanged", async () => {
    const [ada, bob] = await Promise.all([rest.register(), rest.register()]);
    const bobSocket = await connect(bob);
    const id = await rest.direct(ada, bob);
    await rest.send(ada, id, "one");
    await rest.send(bob, id, "two");

    const archived = shape(
      conversationUpdatedFrame,
      await bobSocket.next((f) => f.type === "conversation_updated" && (f.conversation as { id: string; archived: boolean }).id === id && (f.conversation as { archived: boolean }).archived, ARCHIVE_AFTER_MS + 10_000),
    );
    expect(archived.conversation.archived).toBe(true);
    for (const user of [ada, bob]) {
      expect(await listIds(user, false)).not.toContain(id);
      expect(await listIds(user, true)).toContain(id);
    }
    const history = shape(page(message), (await rest.get(`/v1/conversations/${id}/messages`, ada.token)).body);
    expect(history.items.map((m) => [m.seq, m.content])).toEqual([
      [1, "one"],
      [2, "two"],
    ]);

    const restored = await rest.post(`/v1/conversations/${id}/restore`, ada.token);
    expect(restored.status).toBe(200);
    expect(shape(conversation, restored.body)).toMatchObject({ id, archived: false, last_seq: 2 });
    expect(await listIds(bob, false)).toContain(id);
    await bobSocket.next((f) => f.type === "conversation_updated" && (f.conversation as { id: string; archived: boolean }).id === id && !(f.conversation as { archived: boolean }).archived);
    // It stays back: the next archival runs do not take it again at once.
    const runs = await completedRuns("archival");
    await waitFor(async () => (await completedRuns("archival")) >= runs + 2, { timeout: 10_000, message: "two more archival runs" });
    expect(await listIds(ada, false)).toContain(id);
    expect(shape(page(message), (await rest.get(`/v1/conversations/${id}/messages`, bob.token)).body).items.map((m) => m.seq)).toEqual([1, 2]);
  });

  it("any new message brings an archived conversation back, continuing its seqs", async () => {
    const [ada, bob] = await Promise.all([rest.register(), rest.register()]);
    const id = await rest.group(ada, [bob], "Quiet group");
    await rest.send(ada, id, "anyone?");
    await waitFor(async () => (await listIds(bob, true)).includes(id), { timeout: ARCHIVE_AFTER_MS + 10_000, interval: 250, message: "archived" });
    const next = await rest.send(bob, id, "yes!");
    expect(next.seq).toBe(2);
    expect(await listIds(ada, false)).toContain(id);
    expect(await listIds(ada, true)).not.toContain(id);
  });
});

describe("running", () => {
  it("the worker answers /healthz, /readyz and /metrics too", async () => {
    const worker = suite.cluster.worker;
    if (worker === undefined) throw new Error("no worker");
    for (const path of ["/healthz", "/readyz", "/metrics"]) expect((await fetch(`${worker.url}${path}`)).status, path).toBe(200);
  });
});
