import { CONFIRM_EMAIL_JOB_NAME, confirmEmailJobOptions } from "@parley/bus";
import { schema } from "@parley/db";
import { waitFor } from "@parley/testing";
import type { Job } from "bullmq";
import { eq } from "drizzle-orm";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmailComposer, type NotificationSummary } from "../src/jobs/email/email-composer";
import type { EmailOutcome } from "../src/jobs/email/email-job";
import type { WorkerNode } from "../src/worker-node";
import { TEST_APP_URL, WorkerHarness } from "./support/worker-harness";

let harness: WorkerHarness;
let node: WorkerNode;

// The clinic preset, NOTIFY_CONTENT unset: its default is `none`.
beforeAll(async () => {
  harness = await WorkerHarness.start({ PARLEY_POLICY: "clinic" });
  node = await harness.startNode();
});

afterAll(async () => {
  await harness.close();
});

async function finished<T>(queue: WorkerNode["queues"]["email"], job: Job): Promise<T> {
  return waitFor(
    async () => {
      const state = await job.getState();
      if (state === "failed") throw new Error(`job failed: ${String((await queue.getJob(job.id ?? ""))?.failedReason)}`);
      if (state !== "completed") return undefined;
      return (await queue.getJob(job.id ?? ""))?.returnvalue as T | undefined;
    },
    { timeout: 10_000, message: "the job did not complete" },
  );
}

describe("NOTIFY_CONTENT", () => {
  const summary: NotificationSummary = {
    recipientName: "Pat Patient",
    conversation: { id: "0190d4a2-0000-7000-8000-000000000001", type: "direct", title: "Results" },
    senders: ["Dr Who"],
    count: 2,
    previews: [{ sender: "Dr Who", type: "text", content: "your test is positive", attachments: 0, createdAt: new Date(0) }],
  };

  it("full shows senders and previews; sender shows who and how many but no text; none shows only that there is something, with the link", () => {
    const link = `${TEST_APP_URL}/conversations/${summary.conversation.id}`;
    const full = new EmailComposer(TEST_APP_URL, "full").compose(summary);
    expect(full.text).toContain("your test is positive");
    const sender = new EmailComposer(TEST_APP_URL, "sender").compose(summary);
    expect(`${sender.subject}\n${sender.text}\n${sender.html}`).not.toContain("your test is positive");
    expect(sender.subject).toContain("Dr Who");
    expect(sender.subject).toContain("2 new messages");
    const none = new EmailComposer(TEST_APP_URL, "none").compose(summary);
    for (const part of [none.subject, none.text, none.html]) {
      for (const secret of ["your test is positive", "Dr Who", "Results", "Pat Patient", "2 new"]) expect(part).not.toContain(secret);
    }
    expect(none.text).toContain(link);
    expect(none.html).toContain(`href="${link}"`);
  });

  it("a clinic deployment's offline e-mail carries no message content, sender or title by default", async () => {
    const doctor = await harness.user({ name: "Dr Secret" });
    const patient = await harness.user({ name: "Pat" });
    const conversationId = await harness.conversation([doctor.id, patient.id], { title: "Oncology" });
    await harness.message(conversationId, doctor.id, "biopsy results attached");
    const job = await harness.enqueueEmail(node, { user_id: patient.id, conversation_id: conversationId });
    expect(await finished<EmailOutcome>(node.queues.email, job)).toMatchObject({ status: "sent" });
    const [mail, ...more] = harness.smtp.to(patient.email ?? "");
    expect(more).toEqual([]);
    const all = `${mail?.subject ?? ""}\n${mail?.text ?? ""}\n${typeof mail?.html === "string" ? mail.html : ""}`;
    for (const secret of ["biopsy", "Dr Secret", "Oncology"]) expect(all).not.toContain(secret);
    expect(all).toContain(`${TEST_APP_URL}/conversations/${conversationId}`);
  });
});

describe("addresses and blocks", () => {
  it("an unconfirmed address gets no notification", async () => {
    const sender = await harness.user();
    const recipient = await harness.user({ confirmed: false });
    const conversationId = await harness.conversation([sender.id, recipient.id]);
    await harness.message(conversationId, sender.id, "hello");
    const job = await harness.enqueueEmail(node, { user_id: recipient.id, conversation_id: conversationId });
    expect(await finished<EmailOutcome>(node.queues.email, job)).toEqual({ status: "skipped", reason: "unconfirmed" });
    expect(harness.smtp.to(recipient.email ?? "")).toEqual([]);
  });

  it("messages from a user the recipient blocked are never mailed about", async () => {
    const [friend, pest, recipient] = [await harness.user(), await harness.user(), await harness.user()];
    const conversationId = await harness.conversation([friend.id, pest.id, recipient.id]);
    await harness.db.db.insert(schema.blocks).values({ blockerId: recipient.id, blockedId: pest.id });
    await harness.message(conversationId, pest.id, "spam");
    const first = await harness.enqueueEmail(node, { user_id: recipient.id, conversation_id: conversationId });
    expect(await finished<EmailOutcome>(node.queues.email, first)).toEqual({ status: "skipped", reason: "nothing_unread" });
    await harness.message(conversationId, friend.id, "real news");
    const second = await harness.enqueueEmail(node, { user_id: recipient.id, conversation_id: conversationId });
    expect(await finished<EmailOutcome>(node.queues.email, second)).toMatchObject({ status: "sent", count: 1 });
  });
});

describe("confirmation e-mail", () => {
  it("mails a one-time link to the new address and stores only the token's hash, until the given expiry", async () => {
    const user = await harness.user({ confirmed: false });
    const expiresAt = new Date(Date.now() + 3_600_000);
    const job = await node.queues.accountMail.add(CONFIRM_EMAIL_JOB_NAME, { user_id: user.id, email: user.email ?? "", expires_at: expiresAt.toISOString() }, confirmEmailJobOptions);
    expect(await finished(node.queues.accountMail, job)).toEqual({ status: "sent" });
    const [mail] = harness.smtp.to(user.email ?? "");
    const token = /confirm-email\?token=([\w-]+)/.exec(mail?.text ?? "")?.[1];
    expect(token).toBeDefined();
    expect(mail?.text).toContain(`${TEST_APP_URL}/confirm-email?token=${token ?? ""}`);
    const rows = await harness.db.db.select().from(schema.emailConfirmations).where(eq(schema.emailConfirmations.userId, user.id));
    expect(rows).toEqual([{ tokenHash: createHash("sha256").update(token ?? "").digest("hex"), userId: user.id, email: user.email, expiresAt, createdAt: expect.any(Date) as Date }]);
  });

  it("sends nothing when the address changed or was confirmed meanwhile", async () => {
    const user = await harness.user();
    const job = await node.queues.accountMail.add(CONFIRM_EMAIL_JOB_NAME, { user_id: user.id, email: user.email ?? "", expires_at: new Date(Date.now() + 60_000).toISOString() }, confirmEmailJobOptions);
    expect(await finished(node.queues.accountMail, job)).toEqual({ status: "skipped", reason: "already_confirmed" });
    const other = await node.queues.accountMail.add(CONFIRM_EMAIL_JOB_NAME, { user_id: user.id, email: "old@example.test", expires_at: new Date(Date.now() + 60_000).toISOString() }, confirmEmailJobOptions);
    expect(await finished(node.queues.accountMail, other)).toEqual({ status: "skipped", reason: "address_changed" });
  });
});
