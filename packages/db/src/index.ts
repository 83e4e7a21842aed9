export * as schema from "./schema";
export * from "./schema";
export { createDb, type CreateDbOptions, type Database, type Executor, type Tx } from "./client";
export { ensureDatabase } from "./ensure-database";
export {
  migrate,
  migrationsFingerprint,
  migrationsFolder,
  MigrationError,
  type MigrateLogger,
  type MigrateOptions,
  type MigrateResult,
} from "./migrate";
export { recountOfParticipant, tombstoneBatch, type TombstoneBatch } from "./tombstones";
export { eventConversationId, insertOutboxEvents, type OutboxEvent, type StoredOutboxRow } from "./outbox-writer";
