import { userId, uuid } from "@parley/protocol";
import { z } from "zod";

/**
 * The background job contract between the API (producer) and the worker (consumer): queue names, job data
 * and job options. Plain data only, so this package needs no BullMQ; both sides pass these to BullMQ.
 */
export const JOB_QUEUES = {
  /** Offline e-mail notifications, one delayed job per (recipient, conversation) burst. */
  email: "email",
  /** Archival of idle conversations, run by a job scheduler on ARCHIVE_CRON. */
  archival: "archival",
  /** Account e-mails: the confirmation link of a new address. */
  accountMail: "account-mail",
  /** Purge of messages older than MESSAGE_RETENTION, run by a job scheduler on RETENTION_CRON. */
  retention: "retention",
} as const;
export type JobQueueName = (typeof JOB_QUEUES)[keyof typeof JOB_QUEUES];

/**
 * BullMQ's `prefix` option: under REDIS_KEY_PREFIX so several deployments (and test files) share one Redis. On a
 * Redis Cluster it is a hash tag, as BullMQ requires: its scripts touch several keys of a queue at once.
 */
export function jobQueuePrefix(redisKeyPrefix: string, cluster = false): string {
  return cluster ? `{${redisKeyPrefix}bull}` : `${redisKeyPrefix}bull`;
}

export const EMAIL_JOB_NAME = "notify-offline";
export const ARCHIVAL_JOB_NAME = "archive-idle";
/** The id of the job scheduler that runs archival on ARCHIVE_CRON (upserted by every worker: one schedule). */
export const ARCHIVAL_SCHEDULER_ID = "archive-idle-conversations";

export const emailJobData = z.object({ user_id: userId, conversation_id: uuid });
export type EmailJobData = z.infer<typeof emailJobData>;

export const archivalJobData = z.object({});
export type ArchivalJobData = z.infer<typeof archivalJobData>;

/** The deduplication id of the e-mail job of one (recipient, conversation): a burst of messages makes one job. */
export function emailDeduplicationId(data: EmailJobData): string {
  return `email.${data.conversation_id}.${data.user_id}`;
}

/** Name of the worker's backoff strategy for e-mail retries (exponential with jitter, base set by the worker). */
export const EMAIL_BACKOFF_TYPE = "email-exponential";
/** With the default 5 s base: retries after about 5 s, 10 s, 20 s ... 5 min, some 10 minutes in all before a job is given up. */
export const EMAIL_JOB_ATTEMPTS = 8;

/** The subset of BullMQ's JobsOptions used here (structurally compatible with it). */
export interface EmailJobOptions {
  readonly delay: number;
  readonly attempts: number;
  readonly backoff: { readonly type: string };
  readonly deduplication: { readonly id: string; readonly keepLastIfActive: true };
  readonly removeOnComplete: { readonly age: number; readonly count: number };
  readonly removeOnFail: { readonly age: number; readonly count: number };
}

/**
 * Options of an e-mail job: delayed by EMAIL_DELAY, deduplicated per (recipient, conversation) while it waits;
 * a message arriving while the job runs is kept as one follow-up job (`keepLastIfActive`), so none is missed.
 * Completed jobs are trimmed; failed ones stay for a week for inspection.
 */
export function emailJobOptions(data: EmailJobData, delayMs: number): EmailJobOptions {
  return {
    delay: Math.max(0, Math.round(delayMs)),
    attempts: EMAIL_JOB_ATTEMPTS,
    backoff: { type: EMAIL_BACKOFF_TYPE },
    deduplication: { id: emailDeduplicationId(data), keepLastIfActive: true },
    removeOnComplete: { age: 3_600, count: 1_000 },
    removeOnFail: { age: 7 * 86_400, count: 10_000 },
  };
}

export const CONFIRM_EMAIL_JOB_NAME = "confirm-email";
/** Sent when an address is set through the API (EMAIL_CONFIRMATION=required); the worker makes the token and mails it. */
export const confirmEmailJobData = z.object({ user_id: userId, email: z.email(), expires_at: z.iso.datetime() });
export type ConfirmEmailJobData = z.infer<typeof confirmEmailJobData>;

/** A few retries for an SMTP hiccup; the address is not re-mailed once it was confirmed or changed. */
export const confirmEmailJobOptions = {
  attempts: 5,
  backoff: { type: "exponential", delay: 5_000 },
  removeOnComplete: { age: 3_600, count: 1_000 },
  removeOnFail: { age: 7 * 86_400, count: 10_000 },
} as const;

export const RETENTION_JOB_NAME = "purge-expired";
export const RETENTION_SCHEDULER_ID = "purge-expired-messages";
export const retentionJobData = z.object({});
