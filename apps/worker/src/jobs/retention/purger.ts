import { insertOutboxEvents, schema, tombstoneBatch, type Database } from "@parley/db";
import { unreadCountEvents } from "@parley/protocol";
import type { Logger } from "@parley/observability";
import { sql } from "drizzle-orm";
import type { Clock } from "@parley/config";
import type { WorkerMetrics } from "../../metrics";
import { CONVERSATION_TYPES, type ConversationType, type RetentionByType } from "./retention-policy";

export interface PurgerOptions {
  readonly database: Database;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: WorkerMetrics;
  /** MESSAGE_RETENTION per conversation type, in ms; undefined: kept for ever. */
  readonly retention: RetentionByType;
  /** Messages tombstoned per statement (RETENTION_BATCH_SIZE). */
  readonly batchSize: number;
}

export interface PurgeRunResult {
  /** Messages of the hot table turned into tombstones by this run. */
  readonly hot: number;
  /** Messages of archive storage turned into tombstones by this run. */
  readonly archived: number;
  /** Per conversation type: nothing older than this remains with content (ISO time); absent when kept for ever. */
  readonly cutoffs: Partial<Record<ConversationType, string>>;
}

/**
 * MESSAGE_RETENTION (per conversation type when a policy file overrides it): messages older than the retention lose their content and attachments and become tombstones,
 * exactly as a deletion leaves them: the seq stays, so histories keep no gaps and clients see `deleted: true`.
 * Both the hot table and archive storage are purged, in batches of `batchSize` rows per short transaction that
 * locks the batch's conversations as a send does (a send in flight finishes first), until nothing older is left.
 * Purged messages that someone had not read leave their unread counters, with an `unread_count` event.
 */
export class Purger {
  constructor(private readonly options: PurgerOptions) {}

  /** Whether any conversation type has a retention (otherwise no schedule is kept). */
  get enabled(): boolean {
    return CONVERSATION_TYPES.some((type) => this.options.retention[type] !== undefined);
  }

  async run(now: Date): Promise<PurgeRunResult> {
    const { retention, logger, metrics } = this.options;
    const started = performance.now();
    const cutoffs: Partial<Record<ConversationType, string>> = {};
    let hot = 0;
    let archived = 0;
    for (const type of CONVERSATION_TYPES) {
      const ms = retention[type];
      if (ms === undefined) continue;
      const cutoff = new Date(now.getTime() - ms);
      cutoffs[type] = cutoff.toISOString();
      hot += await this.purgeTable("messages", type, cutoff, now);
      archived += await this.purgeTable("archived_messages", type, cutoff, now);
    }
    metrics.messagesPurged.inc({ storage: "hot" }, hot);
    metrics.messagesPurged.inc({ storage: "archived" }, archived);
    if (this.enabled) logger.info({ cutoffs, hot, archived, duration_ms: Math.round(performance.now() - started) }, "retention purge done");
    return { hot, archived, cutoffs };
  }

  /** One batch per transaction, its conversations locked as the send path locks them; returns the messages purged. */
  private async purgeTable(table: "messages" | "archived_messages", type: ConversationType, cutoff: Date, now: Date): Promise<number> {
    const { database, batchSize } = this.options;
    const c = schema.conversations;
    const storage = table === "messages" ? "hot" : "archived";
    const t = storage === "hot" ? schema.messages : schema.archivedMessages;
    const older = sql`${t.createdAt} < ${cutoff.toISOString()}::timestamptz AND ${t.conversationId} IN (SELECT ${c.id} FROM ${c} WHERE ${c.type} = ${type})`;
    let total = 0;
    for (;;) {
      const batch = await database.db.transaction(async (tx) => {
        const done = await tombstoneBatch(tx, storage, older, batchSize, now);
        // Whoever had not read a purged message has one unread fewer, live on their devices (the API's relay publishes).
        const events = unreadCountEvents(done.unread);
        await insertOutboxEvents(tx, events);
        return done;
      });
      total += batch.tombstoned;
      if (batch.found < batchSize) return total;
    }
  }
}
