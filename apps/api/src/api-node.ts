import { RevocationStore, createTokenIssuer, createTokenVerifier, fromConfig, issuerOptionsFromConfig } from "@parley/auth";
import { announceBlock, createRedisClient, EventPublisher, JOB_QUEUES, jobQueuePrefix, PresenceStore, type RedisClient } from "@parley/bus";
import { systemClock, type ApiConfig, type Clock } from "@parley/config";
import { createDb, type Database } from "@parley/db";
import { closeAll, createLogger, createMetrics, listenOn, logConnectionErrors, postgresCheck, redisCheck, startOpsServer, type Logger, type OpsServer, type ServingNode } from "@parley/observability";
import { Queue } from "bullmq";
import { Counter } from "prom-client";
import http from "node:http";
import { uuidv7 } from "uuidv7";
import { createApp } from "./app";
import { EmailScheduler } from "./events/email-scheduler";
import { OutboxRelay } from "./events/outbox-relay";
import { EmailRecipientRepository } from "./repositories/email-recipient-repository";
import { EdgeChannelServer, internalCommandsCounter } from "./internal/edge-channel";
import { InternalCommands } from "./internal/internal-commands";
import { ArchiveRepository } from "./repositories/archive-repository";
import { AuditRepository } from "./repositories/audit-repository";
import { BlockRepository } from "./repositories/block-repository";
import { ContactStateRepository } from "./repositories/contact-state-repository";
import { ConversationRepository } from "./repositories/conversation-repository";
import { MessageRepository } from "./repositories/message-repository";
import { ReportRepository } from "./repositories/report-repository";
import { DataSubjectRepository } from "./repositories/data-subject-repository";
import { RecipientUnreadRepository } from "./repositories/recipient-unread-repository";
import { SearchRepository } from "./repositories/search-repository";
import { SendBatchRepository } from "./repositories/send-batch-repository";
import { OutboxRepository } from "./repositories/outbox-repository";
import { ParticipantRepository } from "./repositories/participant-repository";
import { RelationshipRepository } from "./repositories/relationship-repository";
import { UserDirectoryRepository } from "./repositories/user-directory-repository";
import { UserRepository } from "./repositories/user-repository";
import { AccountService } from "./services/account-service";
import { AdminService } from "./services/admin-service";
import { AuditService } from "./services/audit-service";
import { EmailConfirmationService } from "./services/email-confirmation-service";
import type { ApiServices } from "./services/api-services";
import { BlockService } from "./services/block-service";
import { ContactGuard } from "./services/contact-guard";
import { ConversationService } from "./services/conversation-service";
import { ConversationViews } from "./services/conversation-view";
import { MembershipService } from "./services/membership-service";
import { MessageService } from "./services/message-service";
import { MessageWriter } from "./services/message-writer";
import { ReadService } from "./services/read-service";
import { DeliveryService } from "./services/delivery-service";
import { MarkRepository } from "./repositories/mark-repository";
import { RestoreService } from "./services/restore-service";
import { SearchService } from "./services/search-service";
import { PresenceService } from "./services/presence-service";
import { ReportService } from "./services/report-service";
import { DataSubjectService } from "./services/data-subject-service";
import { RelationshipService } from "./services/relationship-service";
import { systemMessageWriter } from "./services/system-message-writer";
import type { AppendSystemMessage } from "./services/system-messages";
import { UserDirectoryService } from "./services/user-directory-service";
import { loadPolicy } from "./services/policy";
import { DEFAULT_RATE_LIMITS, RateLimits } from "./repositories/rate-limits";

export interface ApiNodeOptions {
  readonly config: ApiConfig;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly newId?: () => string;
}

export interface ApiNode extends ServingNode {
  readonly services: ApiServices;
  readonly database: Database;
  readonly redis: RedisClient;
  readonly relay: OutboxRelay;
  /** Stops accepting requests, finishes in-flight ones, publishes what is committed, closes connections. Idempotent. */
  close(): Promise<void>;
}

/** Builds the API node: every dependency is created here once, from validated config. */
export async function createApiNode(options: ApiNodeOptions): Promise<ApiNode> {
  const { config } = options;
  const nodeId = config.NODE_ID ?? `api-${uuidv7().slice(-8)}`;
  const logger = options.logger ?? createLogger({ name: "api", level: config.LOG_LEVEL, nodeId });
  const clock = options.clock ?? systemClock;
  const newId = options.newId ?? uuidv7;
  const policy = loadPolicy(config.PARLEY_POLICY);
  const metrics = createMetrics({ service: "api", nodeId });

  const database = createDb(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE });
  const redis = createRedisClient(config, { maxRetriesPerRequest: 3, lazyConnect: true });
  logConnectionErrors(logger, "redis", redis);
  await redis.connect();
  const revocations = new RevocationStore({ redis, keyPrefix: config.REDIS_KEY_PREFIX, onConnectionError: (error) => logger.warn({ err: error, connection: "revocations" }, "connection error") });
  await revocations.start();

  const verifier = createTokenVerifier(fromConfig(config, { revocations }));
  const issuerOptions = issuerOptionsFromConfig(config);
  const issuer = issuerOptions ? createTokenIssuer(issuerOptions) : undefined;
  const limits = new RateLimits(redis, config.REDIS_KEY_PREFIX, { ...DEFAULT_RATE_LIMITS, messagesPerMinute: config.MESSAGE_RATE_LIMIT, requestsPerMinutePerUser: config.REQUEST_RATE_LIMIT, requestsPerMinutePerIp: config.IP_REQUEST_RATE_LIMIT, loginFailuresPerAccount: config.LOGIN_FAILURES_PER_ACCOUNT, registrationsPerMinutePerIp: config.REGISTER_RATE_LIMIT });

  const users = new UserRepository(database);
  const outbox = new OutboxRepository(database);
  const publisher = new EventPublisher({ redis, keyPrefix: config.REDIS_KEY_PREFIX });
  // The worker's e-mail queue, on its own connection: BullMQ needs maxRetriesPerRequest null.
  const jobsRedis = createRedisClient(config, { maxRetriesPerRequest: null });
  const emailQueue = new Queue(JOB_QUEUES.email, { connection: jobsRedis, prefix: jobQueuePrefix(config.REDIS_KEY_PREFIX, config.REDIS_CLUSTER) });
  logConnectionErrors(logger, "jobs", jobsRedis, emailQueue);
  const emailScheduler = new EmailScheduler({ recipients: new EmailRecipientRepository(database), queue: emailQueue, delayMs: config.EMAIL_DELAY, logger });
  const relay = new OutboxRelay({ database, outbox, publisher, logger, clock, registry: metrics.registry, onPublished: (events) => emailScheduler.schedule(events) });

  const conversationRepo = new ConversationRepository();
  const participantRepo = new ParticipantRepository();
  const relationshipRepo = new RelationshipRepository();
  const conversationViews = new ConversationViews(conversationRepo, participantRepo);
  const directory = new UserDirectoryService({ database, directory: new UserDirectoryRepository(relationshipRepo), policy });
  const presenceStore = new PresenceStore({ redis, keyPrefix: config.REDIS_KEY_PREFIX, offlineGraceMs: config.PRESENCE_GRACE_MS });
  const messageRepo = new MessageRepository();
  const marks = new MarkRepository();
  const archiveRepo = new ArchiveRepository();
  const recipientUnread = new RecipientUnreadRepository();
  const sendBatches = new SendBatchRepository();
  const messageWriter = new MessageWriter({
    messages: messageRepo,
    batches: sendBatches,
    archive: archiveRepo,
    outbox,
    recipientUnread,
    conversationUpdates: async (tx, id) => conversationViews.updatedEvents(tx, id, await participantRepo.activeUserIds(tx, id)),
    clock,
    newId,
  });
  const messageDeps = { database, messages: messageRepo, participants: participantRepo, outbox, relay };
  const appendSystemMessage: AppendSystemMessage = systemMessageWriter(messageWriter);
  const guard = new ContactGuard({ contacts: new ContactStateRepository(), participants: participantRepo, directory, views: conversationViews, policy, clock, appendSystemMessage });
  const conversationDeps = { database, conversations: conversationRepo, participants: participantRepo, outbox, relay, views: conversationViews, directory, policy, clock };

  const messagesSent = new Counter({
    name: "parley_messages_sent_total",
    help: "New messages stored, by message type (idempotent retries are not counted).",
    labelNames: ["type"],
    registers: [metrics.registry],
  });

  const accountMailQueue = new Queue(JOB_QUEUES.accountMail, { connection: jobsRedis, prefix: jobQueuePrefix(config.REDIS_KEY_PREFIX, config.REDIS_CLUSTER) });
  const confirmations = new EmailConfirmationService({ database, queue: accountMailQueue, mode: config.EMAIL_CONFIRMATION, ttlMs: config.EMAIL_CONFIRMATION_TTL, clock });
  const accounts = new AccountService({ users, policy, issuer, verifier, revocations, limits, confirmations, newId });
  const admin = new AdminService({ database, users, accounts, guard, outbox, relay, revocations, policy, clock, newId });
  const membership = new MembershipService({ ...conversationDeps, appendSystemMessage, unread: recipientUnread });
  const messages = new MessageService({
    ...messageDeps,
    writer: messageWriter,
    batches: sendBatches,
    recipientUnread,
    batching: { maxBatch: config.SEND_BATCH_MAX, windowMs: config.SEND_BATCH_WINDOW, maxInFlight: config.SEND_BATCHES_IN_FLIGHT },
    registry: metrics.registry,
    limits,
    policy,
    clock,
    maxMessageLength: config.MAX_MESSAGE_LENGTH,
    onSent: (message) => messagesSent.inc({ type: message.type }),
  });
  const services: ApiServices = {
    accounts,
    confirmations,
    admin,
    dataSubjects: new DataSubjectService({
      database,
      users,
      accounts,
      subjects: new DataSubjectRepository(),
      participants: participantRepo,
      views: conversationViews,
      guard,
      outbox,
      relay,
      revocations,
      clock,
    }),
    reports: new ReportService({ database, reports: new ReportRepository(), messages: messageRepo, messageService: messages, membership, admin, directory, policy, clock, newId }),
    audit: new AuditService({ database, audit: new AuditRepository(), policy, clock, newId }),
    limits,
    conversations: new ConversationService({ ...conversationDeps, unread: recipientUnread, newId }),
    membership,
    users: directory,
    relationships: new RelationshipService({ database, relationships: relationshipRepo, outbox, relay, guard, clock }),
    blocks: new BlockService({ database, blocks: new BlockRepository(), directory, guard, outbox, relay, clock, announce: (signal) => announceBlock(redis, config.REDIS_KEY_PREFIX, signal).catch((error: unknown) => logger.warn({ err: error }, "block announcement failed; edges catch up when they refresh block lists")) }),
    presence: new PresenceService({ database, store: presenceStore, participants: participantRepo, directory }),
    messages,
    reads: new ReadService({ ...messageDeps, marks, writer: messageWriter, unread: recipientUnread }),
    deliveries: new DeliveryService({ database, marks, participants: participantRepo, outbox, relay }),
    search: new SearchService({ database, messages: messageRepo, search: new SearchRepository() }),
    restore: new RestoreService({ ...messageDeps, archive: archiveRepo, views: conversationViews, clock }),
  };

  let draining = false;
  const readiness = { postgres: postgresCheck(() => database.ping()), redis: redisCheck(redis) };
  let ops: OpsServer | undefined;
  const app = createApp({
    services,
    logger,
    registry: metrics.registry,
    readiness,
    isDraining: () => draining,
    maxBodyBytes: config.MAX_BODY_BYTES,
    trustProxy: config.TRUST_PROXY,
    allowedOrigins: config.ALLOWED_ORIGINS,
  });
  const server = http.createServer(app);
  server.keepAliveTimeout = 65_000; // longer than common load balancer idle timeouts
  const internalCommandsTotal = internalCommandsCounter(metrics.registry);
  // Without INTERNAL_SECRET edges call the REST API with each user's token, and no internal channel exists.
  const edgeChannel =
    config.INTERNAL_SECRET === undefined
      ? undefined
      : new EdgeChannelServer({
          secret: config.INTERNAL_SECRET,
          commands: new InternalCommands({ services, revocations, logger, clockToleranceMs: config.JWT_CLOCK_TOLERANCE }),
          logger,
          commandsTotal: internalCommandsTotal,
        });
  edgeChannel?.attach(server);
  relay.start();
  relay.kick(); // publish anything a previous run left behind

  let closing: Promise<void> | undefined;
  return {
    nodeId,
    services,
    database,
    redis,
    relay,
    listen(port = config.PORT, host = "0.0.0.0") {
      return listenOn(server, port, host);
    },
    async listenOps(port = config.OPS_PORT, host = "0.0.0.0") {
      if (closing) throw new Error("the api node is closed");
      ops ??= await startOpsServer({ port, host, registry: metrics.registry, checks: readiness, isDraining: () => draining });
      return ops.port;
    },
    close() {
      closing ??= (async () => {
        draining = true;
        await closeAll(logger, [
          [
            "http server",
            async () => {
              if (!server.listening) return;
              await new Promise<void>((resolve) => {
                server.close(() => {
                  resolve();
                });
                server.closeIdleConnections();
              });
            },
          ],
          ["edge channel", () => edgeChannel?.close() ?? Promise.resolve()],
          // Sends already accepted are written and answered before the relay stops.
          ["sends", () => services.messages.drained()],
          ["ops server", () => ops?.close()],
          ["outbox relay", () => relay.close()],
          // A failed final flush is published by the next node's relay.
          ["final outbox flush", () => relay.flushOnce()],
          ["email scheduler", () => emailScheduler.close()],
          ["email queue", () => emailQueue.close()],
          ["account mail queue", () => accountMailQueue.close()],
          ["jobs redis", () => jobsRedis.disconnect()],
          ["revocations", () => revocations.close()],
          ["postgres", () => database.close()],
          ["redis", () => redis.disconnect()],
        ]);
        logger.info("api node closed");
      })();
      return closing;
    },
  };
}
