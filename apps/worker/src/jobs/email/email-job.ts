import { emailJobData, type EmailJobData } from "@parley/bus";
import type { Logger } from "@parley/observability";
import { UnrecoverableError, type Job } from "bullmq";
import { z } from "zod";
import type { Clock } from "@parley/config";
import type { WorkerMetrics } from "../../metrics";
import { PREVIEW_COUNT, type EmailComposer } from "./email-composer";
import type { EmailRepository, NotificationClaim, RecipientState } from "./email-repository";
import type { Mailer } from "./mailer";

const claimSchema = z.object({
  log_id: z.uuid(),
  from_seq: z.number().int().positive(),
  to_seq: z.number().int().positive(),
  previous_notified_seq: z.number().int().nonnegative(),
});

/** The job's data as stored in Redis: the contract's fields plus the claim this job is delivering, if any. */
export const emailJobState = emailJobData.extend({ claim: claimSchema.optional() });
export type EmailJobState = z.infer<typeof emailJobState>;

export type SkipReason = "not_participant" | "no_email" | "unconfirmed" | "opted_out" | "muted" | "archived" | "nothing_unread" | "online" | "claimed_elsewhere" | "already_sent";
export type EmailOutcome = { status: "sent"; from_seq: number; to_seq: number; count: number } | { status: "skipped"; reason: SkipReason };

/** What a run needs from its BullMQ job; tests drive {@link EmailJob.run} with their own. */
export interface EmailJobContext {
  /** Attempts that already failed before this one. */
  readonly attemptsMade: number;
  /** Attempts allowed in all. */
  readonly attempts: number;
  /** Persists the claim being delivered in the job's data (undefined clears it), so a retry re-sends that range. */
  saveClaim(claim: NotificationClaim | undefined): Promise<void>;
}

export interface EmailJobDeps {
  readonly repository: EmailRepository;
  readonly presence: { isOnline(userId: string): Promise<boolean> };
  readonly mailer: Mailer;
  readonly composer: EmailComposer;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: WorkerMetrics;
  readonly newId: () => string;
  /** Enqueues another delayed job for the pair (messages that arrived while this one was being retried). */
  readonly followUp: (data: EmailJobData) => Promise<void>;
  /** The domain of Message-IDs, e.g. the host of PUBLIC_APP_URL. */
  readonly messageIdDomain: string;
  /** EMAIL_CONFIRMATION=required: an unconfirmed address gets no notification. */
  readonly requireConfirmed?: boolean;
}

/** Concurrent jobs that lose the compare-and-set look again this many times before leaving it to the winner. */
const CLAIM_ROUNDS = 3;

/**
 * Offline e-mail for one (recipient, conversation).
 *
 * Exactly-once per message rests on claim-then-send: a range is claimed first (compare-and-set on
 * participants.notified_seq plus an email_log row, one transaction), so concurrent jobs can never both mail it;
 * the claim is saved in the job's data before it is made, so a retry after an SMTP failure or a crash re-sends
 * the same range under the same Message-ID instead of losing it; a claim that is given up (last attempt failed,
 * recipient came back or read everything) is handed back. Send-then-record would double mails whenever two
 * jobs race; the one window left here (SMTP accepted, then the process died before recording it) re-sends
 * with the same Message-ID, which mail clients fold. The email_log row tells the states apart: claimed, sent
 * (sent_at), released (handed back, kept for audit), with SMTP attempts and the last error.
 */
export class EmailJob {
  constructor(private readonly deps: EmailJobDeps) {}

  /** The BullMQ processor. */
  readonly process = async (job: Job): Promise<EmailOutcome> => {
    const parsed = emailJobState.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid e-mail job data: ${parsed.error.message}`);
    let data = parsed.data;
    return this.run(data, {
      attemptsMade: job.attemptsMade,
      attempts: job.opts.attempts ?? 1,
      saveClaim: async (claim) => {
        data = { user_id: data.user_id, conversation_id: data.conversation_id, ...(claim === undefined ? {} : { claim }) };
        await job.updateData(data);
      },
    });
  };

  async run(data: EmailJobState, ctx: EmailJobContext): Promise<EmailOutcome> {
    const { repository } = this.deps;
    const pair = { user_id: data.user_id, conversation_id: data.conversation_id };
    if (data.claim !== undefined) {
      const status = await repository.claimStatus(data.claim.log_id);
      if (status === "claimed") return this.resume(pair, data.claim, ctx);
      // Recorded as sent before the job could forget it (crash right after): never mail it twice.
      if (status === "sent") {
        await ctx.saveClaim(undefined);
        const later = await repository.unmailedAfter(pair.conversation_id, pair.user_id, data.claim.to_seq);
        if (later.count > 0) await this.deps.followUp(pair);
        return { status: "skipped", reason: "already_sent" };
      }
      // Never committed (crash between saving it and claiming) or already handed back: start over.
      await ctx.saveClaim(undefined);
    }
    for (let round = 0; round < CLAIM_ROUNDS; round++) {
      const state = await repository.recipientState(pair.user_id, pair.conversation_id);
      const ineligible = this.ineligible(state);
      if (ineligible !== undefined || state === undefined) return { status: "skipped", reason: ineligible ?? "not_participant" };
      const after = Math.max(state.notifiedSeq, state.lastReadSeq);
      const unmailed = await repository.unmailedAfter(pair.conversation_id, pair.user_id, after);
      if (unmailed.count === 0) return { status: "skipped", reason: "nothing_unread" };
      if (await this.deps.presence.isOnline(pair.user_id)) return { status: "skipped", reason: "online" };

      const claim: NotificationClaim = { log_id: this.deps.newId(), from_seq: after + 1, to_seq: unmailed.lastSeq, previous_notified_seq: state.notifiedSeq };
      // Saved before the claim commits: a crash right after committing must still find (and send) it.
      await ctx.saveClaim(claim);
      if (await repository.claim(pair.user_id, pair.conversation_id, claim, this.deps.clock.now())) return this.deliver(pair, claim, state, ctx);
      await ctx.saveClaim(undefined);
    }
    return { status: "skipped", reason: "claimed_elsewhere" };
  }

  /** A retry of a committed claim: send it again unless the reason to send has gone. */
  private async resume(pair: EmailJobData, claim: NotificationClaim, ctx: EmailJobContext): Promise<EmailOutcome> {
    const state = await this.deps.repository.recipientState(pair.user_id, pair.conversation_id);
    const ineligible = this.ineligible(state);
    let reason: SkipReason | undefined = ineligible;
    if (reason === undefined && state !== undefined && state.lastReadSeq >= claim.to_seq) reason = "nothing_unread";
    if (reason === undefined && (await this.deps.presence.isOnline(pair.user_id))) reason = "online";
    if (reason !== undefined || state === undefined) {
      await this.giveBack(pair, claim, ctx);
      return { status: "skipped", reason: reason ?? "not_participant" };
    }
    return this.deliver(pair, claim, state, ctx);
  }

  private ineligible(state: RecipientState | undefined): SkipReason | undefined {
    if (!state?.active) return "not_participant";
    if (!state.email?.trim()) return "no_email";
    if (this.deps.requireConfirmed === true && !state.emailConfirmed) return "unconfirmed";
    if (!state.emailNotifications) return "opted_out";
    if (state.muted) return "muted";
    if (state.conversation.archived) return "archived";
    return undefined;
  }

  private async deliver(pair: EmailJobData, claim: NotificationClaim, state: RecipientState, ctx: EmailJobContext): Promise<EmailOutcome> {
    const { repository, logger } = this.deps;
    const summary = await repository.summary(pair.conversation_id, pair.user_id, claim, state.lastReadSeq, PREVIEW_COUNT);
    if (summary.count === 0) {
      // Read or deleted since the claim was made.
      await this.giveBack(pair, claim, ctx);
      return { status: "skipped", reason: "nothing_unread" };
    }
    const mail = this.deps.composer.compose({ recipientName: state.displayName, conversation: state.conversation, ...summary });
    try {
      await this.deps.mailer.send({
        to: state.email ?? "",
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: `<${claim.log_id}@${this.deps.messageIdDomain}>`,
        headers: {
          "List-Unsubscribe": `<${mail.settingsLink}>`,
          "Auto-Submitted": "auto-generated",
          "X-Parley-Conversation": pair.conversation_id,
        },
      });
    } catch (error) {
      await this.recordFailure(pair, claim, error);
      if (ctx.attemptsMade + 1 >= ctx.attempts) {
        // Last attempt: hand the range back so the next notification covers it; the job stays in the failed set.
        await this.giveBack(pair, claim, ctx);
      }
      throw error;
    }
    // Recorded before the claim is cleared from the job: a crash in between then finds it sent, not pending.
    await repository.markSent(claim.log_id, this.deps.clock.now());
    await ctx.saveClaim(undefined);
    this.deps.metrics.emailsSent.inc();
    logger.info({ user_id: pair.user_id, conversation_id: pair.conversation_id, from_seq: claim.from_seq, to_seq: claim.to_seq, count: summary.count }, "offline e-mail sent");
    // Messages that came while this job waited for a retry were deduplicated into it: give them their own job.
    const later = await repository.unmailedAfter(pair.conversation_id, pair.user_id, claim.to_seq);
    if (later.count > 0) await this.deps.followUp(pair);
    return { status: "sent", from_seq: claim.from_seq, to_seq: claim.to_seq, count: summary.count };
  }

  /** Audit only: a failure to record one must not stop the retry or the hand-back. */
  private async recordFailure(pair: EmailJobData, claim: NotificationClaim, error: unknown): Promise<void> {
    try {
      await this.deps.repository.recordFailure(claim.log_id, error instanceof Error ? error.message : String(error));
    } catch (recordError) {
      this.deps.logger.warn({ err: recordError, user_id: pair.user_id, conversation_id: pair.conversation_id, log_id: claim.log_id }, "could not record the e-mail failure");
    }
  }

  private async giveBack(pair: EmailJobData, claim: NotificationClaim, ctx: EmailJobContext): Promise<void> {
    await this.deps.repository.release(pair.user_id, pair.conversation_id, claim);
    await ctx.saveClaim(undefined);
  }
}
