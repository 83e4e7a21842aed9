import { emailDeduplicationId, EMAIL_JOB_NAME, emailJobOptions } from "@parley/bus";
import { schema } from "@parley/db";
import { waitFor } from "@parley/testing";
import type { Job } from "bullmq";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmailOutcome } from "../src/jobs/email/email-job";
import type { WorkerNode } from "../src/worker-node";
import { TEST_APP_URL, TEST_EMAIL_DELAY_MS, WorkerHarness } from "./support/worker-harness";

let harness: WorkerHarness;
let node: WorkerNode;

beforeAll(async () => {
  harness = await WorkerHarness.start();
  node = await harness.startNode();
});

afterAll(async () => {
  await harness.close();
});

/** The pair's email_log rows as an operator reads them: the range, its state and its SMTP attempts. */
async function logRows(userId: string, conversationId: string) {
  const log = schema.emailLog;
  return harness.db.db
    .select({ id: log.id, fromSeq: log.fromSeq, toSeq: log.toSeq, status: log.status, claimedAt: log.claimedAt, sentAt: log.sentAt, attempts: log.attempts, lastError: log.lastError })
    .from(log)
    .where(and(eq(log.userId, userId), eq(log.conversationId, conversationId)))
    .orderBy(log.claimedAt);
}

/** A sender, an offline recipient with an e-mail address, and their conversation. */
async function pair(options: { notifications?: boolean; title?: string; senderName?: string } = {}) {
  const sender = await harness.user({ name: options.senderName ?? "Alice Sender" });
  const recipient = await harness.user({ name: "Bob Recipient", ...(options.notifications === undefined ? {} : { notifications: options.notifications }) });
  const conversationId = await harness.conversation([sender.id, recipient.id], { title: options.title ?? "Homework" });
  return { sender, recipient, conversationId, data: { user_id: recipient.id, conversation_id: conversationId } };
}

async function finished(job: Job): Promise<EmailOutcome> {
  return waitFor(
    async () => {
      const state = await job.getState();
      if (state === "failed") throw new Error(`job failed: ${String((await node.queues.email.getJob(job.id ?? ""))?.failedReason)}`);
      if (state !== "completed") return undefined;
      const done = await node.queues.email.getJob(job.id ?? "");
      return done?.returnvalue as EmailOutcome | undefined;
    },
    { timeout: 10_000, message: "the e-mail job did not complete" },
  );
}

describe("offline e-mail", () => {
  it("a burst of 10 messages to an offline user makes exactly one e-mail with the count, previews and deep link", async () => {
    const { sender, recipient, conversationId, data } = await pair({ senderName: "Alice <b>Sender</b>" });
    const jobs: Job[] = [];
    for (let i = 1; i <= 10; i++) {
      const content = i === 10 ? `<script>alert("x")</script> & <img src=x onerror=alert(1)> last` : `message number ${i}`;
      await harness.message(conversationId, sender.id, content);
      // A delay comfortably longer than the burst, however slow the machine.
      jobs.push(await harness.enqueueEmail(node, data, 1_500));
    }
    // One job for the whole burst: every enqueue after the first was deduplicated into it.
    expect(new Set(jobs.map((job) => job.id)).size).toBe(1);
    const outcome = await finished(jobs[0]!);
    expect(outcome).toEqual({ status: "sent", from_seq: 1, to_seq: 10, count: 10 });

    const mails = harness.smtp.to(recipient.email!);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.subject).toContain("10 new messages");
    expect(mail.subject).toContain("Alice <b>Sender</b>");
    const link = `${TEST_APP_URL}/conversations/${conversationId}`;
    expect(mail.text).toContain(link);
    expect(mail.text).toContain("message number 8");
    expect(mail.text).toContain("message number 9");
    expect(mail.text).not.toContain("message number 7");
    expect(mail.text).toContain("…and 7 earlier messages.");
    expect(mail.text).toContain(`${TEST_APP_URL}/settings/notifications`);

    const html = typeof mail.html === "string" ? mail.html : "";
    expect(html).toContain(`href="${link}"`);
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt; last");
    expect(html).toContain("Alice &lt;b&gt;Sender&lt;/b&gt;");
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<b>Sender");
    expect(mail.headers.get("list")).toMatchObject({ unsubscribe: { url: `${TEST_APP_URL}/settings/notifications` } });
    const [row, ...others] = await logRows(recipient.id, conversationId);
    expect(others).toEqual([]);
    expect(row).toMatchObject({ fromSeq: 1, toSeq: 10, status: "sent", attempts: 1, lastError: null });
    expect(row?.sentAt).toBeInstanceOf(Date);
    expect(row!.sentAt!.getTime()).toBeGreaterThanOrEqual(row!.claimedAt.getTime());
  });

  it("a message read before the delay is not mailed", async () => {
    const { sender, recipient, conversationId, data } = await pair();
    const { seq } = await harness.message(conversationId, sender.id, "see you tomorrow");
    const job = await harness.enqueueEmail(node, data);
    await harness.markRead(conversationId, recipient.id, seq);
    expect(await finished(job)).toEqual({ status: "skipped", reason: "nothing_unread" });
    expect(harness.smtp.to(recipient.email!)).toHaveLength(0);
  });

  it("a recipient who is online (connected to any edge) gets no e-mail", async () => {
    const { sender, recipient, conversationId, data } = await pair();
    await harness.connect(recipient.id);
    await harness.message(conversationId, sender.id, "are you there?");
    const job = await harness.enqueueEmail(node, data);
    expect(await finished(job)).toEqual({ status: "skipped", reason: "online" });
    expect(harness.smtp.to(recipient.email!)).toHaveLength(0);
  });

  it("a muted conversation and an opted-out recipient get no e-mail", async () => {
    const muted = await pair();
    await harness.setMuted(muted.conversationId, muted.recipient.id, true);
    await harness.message(muted.conversationId, muted.sender.id, "muted hello");
    const optedOut = await pair({ notifications: false });
    await harness.message(optedOut.conversationId, optedOut.sender.id, "opted-out hello");
    const jobs = [await harness.enqueueEmail(node, muted.data), await harness.enqueueEmail(node, optedOut.data)];
    expect(await finished(jobs[0]!)).toEqual({ status: "skipped", reason: "muted" });
    expect(await finished(jobs[1]!)).toEqual({ status: "skipped", reason: "opted_out" });
    expect(harness.smtp.to(muted.recipient.email!)).toHaveLength(0);
    expect(harness.smtp.to(optedOut.recipient.email!)).toHaveLength(0);
  });

  it("new messages after a notification make a second e-mail covering only the new ones", async () => {
    const { sender, recipient, conversationId, data } = await pair();
    await harness.message(conversationId, sender.id, "first batch one");
    await harness.message(conversationId, sender.id, "first batch two");
    expect(await finished(await harness.enqueueEmail(node, data))).toMatchObject({ status: "sent", from_seq: 1, to_seq: 2 });

    await harness.message(conversationId, sender.id, "second batch three");
    expect(await finished(await harness.enqueueEmail(node, data))).toEqual({ status: "sent", from_seq: 3, to_seq: 3, count: 1 });

    const mails = harness.smtp.to(recipient.email!);
    expect(mails).toHaveLength(2);
    expect(mails[1]!.subject).toContain("1 new message from");
    expect(mails[1]!.text).toContain("second batch three");
    expect(mails[1]!.text).not.toContain("first batch");
    expect(await harness.emailLog(recipient.id, conversationId)).toEqual([
      { fromSeq: 1, toSeq: 2 },
      { fromSeq: 3, toSeq: 3 },
    ]);
  });

  it("an SMTP server refusing twice, then accepting, gets one e-mail, delivered by a retry", async () => {
    const { sender, recipient, conversationId, data } = await pair();
    await harness.message(conversationId, sender.id, "retry me");
    harness.smtp.refuseNext(2);
    const job = await harness.enqueueEmail(node, data);
    expect(await finished(job)).toMatchObject({ status: "sent", from_seq: 1, to_seq: 1 });
    expect(harness.smtp.refusedCount).toBeGreaterThanOrEqual(2);
    expect(harness.smtp.to(recipient.email!)).toHaveLength(1);
    const done = await node.queues.email.getJob(job.id!);
    // Two refused attempts, then the one that delivered.
    expect(done?.attemptsMade).toBe(3);
    // The retries re-sent the claimed range: one row, counted, sent, with the refusal that came before.
    const rows = await logRows(recipient.id, conversationId);
    expect(rows).toEqual([expect.objectContaining({ fromSeq: 1, toSeq: 1, status: "sent", attempts: 3, sentAt: expect.any(Date) as unknown })]);
    expect(rows[0]?.lastError).toMatch(/SMTP delivery failed/);
  });

  it("a job that still carries a claim already recorded as sent does not mail it again", async () => {
    const { sender, recipient, conversationId, data } = await pair();
    await harness.message(conversationId, sender.id, "mailed once");
    expect(await finished(await harness.enqueueEmail(node, data))).toMatchObject({ status: "sent", from_seq: 1, to_seq: 1 });
    const [sent] = await logRows(recipient.id, conversationId);
    // As if the worker died after recording the send and before clearing the claim from the job's data.
    const claim = { log_id: sent!.id, from_seq: 1, to_seq: 1, previous_notified_seq: 0 };
    const options = { ...emailJobOptions(data, 0), deduplication: { id: `${emailDeduplicationId(data)}.resent`, keepLastIfActive: true as const } };
    const job = await node.queues.email.add(EMAIL_JOB_NAME, { ...data, claim }, options);
    expect(await finished(job)).toEqual({ status: "skipped", reason: "already_sent" });
    expect(harness.smtp.to(recipient.email!)).toHaveLength(1);
    expect(await logRows(recipient.id, conversationId)).toEqual([expect.objectContaining({ status: "sent", attempts: 1 })]);
  });

  it("jobs of the same recipient and conversation running concurrently mail each message once", async () => {
    const { sender, recipient, conversationId, data } = await pair();
    for (let i = 0; i < 3; i++) await harness.message(conversationId, sender.id, `race ${i}`);
    // Bypass the queue's deduplication: four jobs for the same pair, run side by side (concurrency 5).
    const { deduplication: _deduplication, ...options } = emailJobOptions(data, TEST_EMAIL_DELAY_MS);
    const jobs = await Promise.all([1, 2, 3, 4].map(() => node.queues.email.add(EMAIL_JOB_NAME, data, options)));
    const outcomes = await Promise.all(jobs.map((job) => finished(job)));
    expect(outcomes.filter((outcome) => outcome.status === "sent")).toHaveLength(1);
    expect(harness.smtp.to(recipient.email!)).toHaveLength(1);
    expect(await harness.emailLog(recipient.id, conversationId)).toEqual([{ fromSeq: 1, toSeq: 3 }]);
  });

  it("a retried job re-sends the range it claimed, even after the recipient got new messages", async () => {
    const { sender, recipient, conversationId, data } = await pair();
    await harness.message(conversationId, sender.id, "claimed one");
    const refusedBefore = harness.smtp.refusedCount;
    harness.smtp.refuseNext(1);
    const job = await harness.enqueueEmail(node, data);
    // While the first attempt waits for its retry, another message arrives and is deduplicated into the job.
    await waitFor(async () => harness.smtp.refusedCount > refusedBefore && (await job.getState()) === "delayed", { timeout: 5_000 });
    await harness.message(conversationId, sender.id, "arrived during the retry");
    const again = await harness.enqueueEmail(node, data);
    expect(again.id).toBe(job.id);
    expect(await finished(job)).toMatchObject({ status: "sent", from_seq: 1, to_seq: 1 });
    // The follow-up job covers what arrived meanwhile, in a second e-mail.
    await waitFor(() => harness.smtp.to(recipient.email!).length === 2, { timeout: 5_000 });
    expect(harness.smtp.to(recipient.email!)[1]!.text).toContain("arrived during the retry");
    expect(await harness.emailLog(recipient.id, conversationId)).toEqual([
      { fromSeq: 1, toSeq: 1 },
      { fromSeq: 2, toSeq: 2 },
    ]);
  });

  it("reports jobs, queue depth and e-mails on /metrics", async () => {
    const response = await fetch(`http://127.0.0.1:${node.port!}/metrics`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).toMatch(/parley_emails_sent_total\{[^}]*\} [1-9]/);
    expect(text).toMatch(/parley_jobs_completed_total\{[^}]*queue="email"[^}]*\} [1-9]/);
    expect(text).toMatch(/parley_job_retries_total\{[^}]*queue="email"[^}]*\} [1-9]/);
    expect(text).toMatch(/parley_queue_depth\{[^}]*queue="email"[^}]*state="delayed"[^}]*\} \d/);
    expect(text).toContain("parley_jobs_failed_total");
    expect(text).toContain("parley_conversations_archived_total");
  });

  it("a job given up after its last attempt hands its range back and stays in the failed set", async () => {
    const { sender, recipient, conversationId, data } = await pair();
    await harness.message(conversationId, sender.id, "never delivered");
    harness.smtp.refuseNext(2);
    const options = { ...emailJobOptions(data, 0), attempts: 2, deduplication: { id: `${emailDeduplicationId(data)}.exhaust`, keepLastIfActive: true as const } };
    const job = await node.queues.email.add(EMAIL_JOB_NAME, data, options);
    await waitFor(async () => (await job.getState()) === "failed", { timeout: 10_000 });
    expect(harness.smtp.to(recipient.email!)).toHaveLength(0);
    // Handed back, but kept for audit: both refused attempts counted, never sent.
    const [released] = await logRows(recipient.id, conversationId);
    expect(released).toMatchObject({ fromSeq: 1, toSeq: 1, status: "released", attempts: 2, sentAt: null });
    expect(released?.lastError).toMatch(/SMTP delivery failed/);
    // The next notification covers the message the failed job could not deliver.
    expect(await finished(await harness.enqueueEmail(node, data))).toMatchObject({ status: "sent", from_seq: 1, to_seq: 1 });
    expect((await logRows(recipient.id, conversationId)).map((row) => row.status)).toEqual(["released", "sent"]);
    const metrics = await (await fetch(`http://127.0.0.1:${node.port!}/metrics`)).text();
    expect(metrics).toMatch(/parley_jobs_failed_total\{[^}]*queue="email"[^}]*\} [1-9]/);
  });
});
