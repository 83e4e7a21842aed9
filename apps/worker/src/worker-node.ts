import { createRedisClient, EMAIL_BACKOFF_TYPE, EMAIL_JOB_NAME, emailJobOptions, JOB_QUEUES, jobQueuePrefix, PresenceStore, type EmailJobData } from "@parley/bus";
import { notifyContentFor, systemClock, type Clock, type WorkerConfig } from "@parley/config";
import { createDb, type Database } from "@parley/db";
import { closeAll, createLogger, createMetrics, logConnectionErrors, postgresCheck, redisCheck, startOpsServer, type Logger, type OpsServer } from "@parley/observability";
import { Queue, Worker, type Job } from "bullmq";
import type { Registry } from "prom-client";
import { uuidv7 } from "uuidv7";
import { archivalProcessor, scheduleArchival } from "./jobs/archival/archival-job";
import { Archiver } from "./jobs/archival/archiver";
import { ArchivalRepository } from "./jobs/archival/archival-repository";
import { confirmationProcessor } from "./jobs/account/confirmation-job";
import { EmailComposer } from "./jobs/email/email-composer";
import { Purger } from "./jobs/retention/purger";
import { retentionByType } from "./jobs/retention/retention-policy";
import { retentionProcessor, scheduleRetention } from "./jobs/retention/retention-job";
import { EmailJob } from "./jobs/email/email-job";
import { EmailRepository } from "./jobs/email/email-repository";
import { SmtpMailer, type Mailer } from "./jobs/email/mailer";
import { createWorkerMetrics, DEPTH_STATES, type WorkerMetrics } from "./metrics";

export interface WorkerNodeOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly newId?: () => string;
  /** First delay between e-mail attempts, doubled each time (with jitter); 5 s unless given. */
  readonly emailRetryBaseMs?: number;
  /** E-mail jobs run at once on this node; 5 unless given. */
  readonly emailConcurrency?: number;
  /** Replaces the SMTP mailer (never needed with a reachable SMTP server; tests use a real one). */
  readonly mailer?: Mailer;
  /** Bind the ops server here instead of config.PORT (0 picks a free port). */
  readonly port?: number;
}

export interface WorkerNode {
  readonly nodeId: string;
  readonly registry: Registry;
  readonly metrics: WorkerMetrics;
  readonly database: Database;
  readonly queues: { readonly email: Queue; readonly archival: Queue; readonly accountMail: Queue; readonly retention: Queue };
  readonly purger: Purger;
  readonly archiver: Archiver;
  readonly emailJob: EmailJob;
  /** The ops server's port (/healthz, /readyz, /metrics), once started. */
  readonly port: number | undefined;
  /** Connects, starts the workers and the ops server, and upserts the archival schedule. */
  start(): Promise<void>;
  /** Lets running jobs finish, then closes workers, queues, connections and the ops server. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_RETRY_BASE_MS = 5_000;

/** Exponential backoff with ±20 % jitter, so retries of many jobs after one SMTP outage do not arrive together. */
export function emailBackoff(baseMs: number): (attemptsMade: number) => number {
  return (attemptsMade) => Math.round(baseMs * 2 ** Math.max(0, attemptsMade - 1) * (0.8 + Math.random() * 0.4));
}

/** Builds the worker node from validated config; jobs run and the ops server listens once `start()` resolves. */
export function createWorkerNode(config: WorkerConfig, options: WorkerNodeOptions = {}): WorkerNode {
  const nodeId = config.NODE_ID ?? `worker-${uuidv7().slice(-8)}`;
  const logger = options.logger ?? createLogger({ name: "worker", level: config.LOG_LEVEL, nodeId });
  const clock = options.clock ?? systemClock;
  const { registry } = createMetrics({ service: "worker", nodeId });

  const database = createDb(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE });
  // BullMQ blocks on its connections and must never give up a command: maxRetriesPerRequest null.
  const bullRedis = createRedisClient(config, { maxRetriesPerRequest: null });
  const redis = createRedisClient(config, { maxRetriesPerRequest: 3, lazyConnect: true });
  logConnectionErrors(logger, "redis", bullRedis, redis);
  const prefix = jobQueuePrefix(config.REDIS_KEY_PREFIX, config.REDIS_CLUSTER);
  const queues = {
    email: new Queue(JOB_QUEUES.email, { connection: bullRedis, prefix }),
    archival: new Queue(JOB_QUEUES.archival, { connection: bullRedis, prefix }),
    accountMail: new Queue(JOB_QUEUES.accountMail, { connection: bullRedis, prefix }),
    retention: new Queue(JOB_QUEUES.retention, { connection: bullRedis, prefix }),
  };
  logConnectionErrors(logger, "queues", ...Object.values(queues));
  const metrics = createWorkerMetrics(
    registry,
    Object.values(queues).map((queue) => ({ name: queue.name, counts: () => queue.getJobCounts(...DEPTH_STATES) })),
  );

  const mailer = options.mailer ?? new SmtpMailer({ smtpUrl: config.SMTP_URL, from: config.EMAIL_FROM });
  const emailJob = new EmailJob({
    repository: new EmailRepository(database),
    presence: new PresenceStore({ redis, keyPrefix: config.REDIS_KEY_PREFIX }),
    mailer,
    composer: new EmailComposer(config.PUBLIC_APP_URL, notifyContentFor(config.NOTIFY_CONTENT, config.PARLEY_POLICY)),
    requireConfirmed: config.EMAIL_CONFIRMATION === "required",
    clock,
    logger: logger.child({ queue: JOB_QUEUES.email }),
    metrics,
    newId: options.newId ?? uuidv7,
    followUp: async (data: EmailJobData) => {
      await queues.email.add(EMAIL_JOB_NAME, data, emailJobOptions(data, config.EMAIL_DELAY));
    },
    messageIdDomain: new URL(config.PUBLIC_APP_URL).hostname,
  });
  const archiver = new Archiver({ database, repository: new ArchivalRepository(), clock, logger: logger.child({ queue: JOB_QUEUES.archival }), metrics, archiveAfterMs: config.ARCHIVE_AFTER, maxPerRun: config.ARCHIVE_MAX_PER_RUN });

  const purger = new Purger({
    database,
    clock,
    logger: logger.child({ queue: JOB_QUEUES.retention }),
    metrics,
    retention: retentionByType(config.MESSAGE_RETENTION, config.PARLEY_POLICY),
    batchSize: config.RETENTION_BATCH_SIZE,
  });

  const workers: Worker[] = [];
  let ops: OpsServer | undefined;
  let started: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  function observe(worker: Worker): void {
    const queue = worker.name;
    worker.on("completed", () => {
      metrics.jobsCompleted.inc({ queue });
    });
    worker.on("failed", (job: Job | undefined, error: Error) => {
      const final = job === undefined || job.attemptsMade >= (job.opts.attempts ?? 1) || error.name === "UnrecoverableError";
      if (final) {
        metrics.jobsFailed.inc({ queue });
        logger.error({ err: error, queue, job_id: job?.id, data: job?.data, attempts: job?.attemptsMade }, "job failed for good; kept in the failed set");
      } else {
        metrics.jobRetries.inc({ queue });
        logger.warn({ err: error, queue, job_id: job.id, attempts: job.attemptsMade }, "job attempt failed; will retry");
      }
    });
    worker.on("error", (error: Error) => {
      logger.error({ err: error, queue }, "worker error");
    });
  }

  async function doStart(): Promise<void> {
    await Promise.all([redis.connect(), ...Object.values(queues).map((queue) => queue.waitUntilReady())]);
    await database.ping();
    const retryBase = options.emailRetryBaseMs ?? DEFAULT_RETRY_BASE_MS;
    const backoff = emailBackoff(retryBase);
    workers.push(
      new Worker(JOB_QUEUES.email, emailJob.process, {
        connection: bullRedis,
        prefix,
        concurrency: options.emailConcurrency ?? 5,
        settings: { backoffStrategy: (attemptsMade: number, type?: string) => (type === EMAIL_BACKOFF_TYPE ? backoff(attemptsMade) : retryBase) },
      }),
      new Worker(JOB_QUEUES.archival, archivalProcessor(archiver, clock), { connection: bullRedis, prefix, concurrency: 1 }),
      new Worker(
        JOB_QUEUES.accountMail,
        confirmationProcessor({
          database,
          mailer,
          clock,
          logger: logger.child({ queue: JOB_QUEUES.accountMail }),
          publicAppUrl: config.PUBLIC_APP_URL,
          messageIdDomain: new URL(config.PUBLIC_APP_URL).hostname,
        }),
        { connection: bullRedis, prefix, concurrency: 2 },
      ),
      new Worker(JOB_QUEUES.retention, retentionProcessor(purger, clock), { connection: bullRedis, prefix, concurrency: 1 }),
    );
    for (const worker of workers) observe(worker);
    await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    await scheduleArchival(queues.archival, config.ARCHIVE_CRON);
    await scheduleRetention(queues.retention, config.RETENTION_CRON, purger.enabled);
    ops = await startOpsServer({
      port: options.port ?? config.PORT,
      registry,
      checks: { postgres: postgresCheck(() => database.ping()), redis: redisCheck(redis) },
      isDraining: () => closing !== undefined,
    });
    logger.info({ port: ops.port, archive_cron: config.ARCHIVE_CRON, email_delay_ms: config.EMAIL_DELAY }, "worker started");
  }

  return {
    nodeId,
    registry,
    metrics,
    database,
    queues,
    archiver,
    purger,
    emailJob,
    get port() {
      return ops?.port;
    },
    start() {
      if (closing) return Promise.reject(new Error("the worker node is closed"));
      started ??= doStart();
      return started;
    },
    close() {
      closing ??= (async () => {
        await started?.catch(() => undefined);
        await closeAll(logger, [
          // Workers first: they finish their running jobs before the connections those jobs use go away.
          ["workers", () => Promise.all(workers.map((worker) => worker.close()))],
          ["queues", () => Promise.all(Object.values(queues).map((queue) => queue.close()))],
          ["mailer", () => mailer.close()],
          ["ops server", () => ops?.close()],
          ["postgres", () => database.close()],
          ["bullmq redis", () => bullRedis.disconnect()],
          ["redis", () => redis.disconnect()],
        ]);
        logger.info("worker closed");
      })();
      return closing;
    },
  };
}
