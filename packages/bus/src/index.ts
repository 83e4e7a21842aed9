export { ChannelSubscriber } from "./channel-subscriber";
export { comparePos, EVENT_TYPES, eventEnvelope, liveHeader, parseEnvelope, parseJsonWith, parseLivePayload, parseStoredEvent, staticHeaderOf, type EventEnvelope, type LiveHeader, type LivePayload } from "./envelope";
export { EventPublisher, type EventPublisherOptions, type PublishableEvent } from "./event-publisher";
export { latestPos, readUserStream, type ReplayResult } from "./event-stream";
export { busKeys, type BusKeys } from "./keys";
export { PresenceStore, type ClusterStats, type ConnectionRef, type PresenceStoreOptions } from "./presence-store";
export { CONFIRM_EMAIL_JOB_NAME, confirmEmailJobData, confirmEmailJobOptions, RETENTION_JOB_NAME, RETENTION_SCHEDULER_ID, retentionJobData, type ConfirmEmailJobData } from "./jobs";
export { ARCHIVAL_JOB_NAME, ARCHIVAL_SCHEDULER_ID, archivalJobData, EMAIL_BACKOFF_TYPE, EMAIL_JOB_ATTEMPTS, EMAIL_JOB_NAME, emailDeduplicationId, emailJobData, emailJobOptions, JOB_QUEUES, jobQueuePrefix, type ArchivalJobData, type EmailJobData, type EmailJobOptions, type JobQueueName } from "./jobs";
export { announceBlock, BLOCKS_CONTROL, blockSignal, type BlockSignal } from "./block-signals";
