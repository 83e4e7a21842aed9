import { schema, type Database } from "@parley/db";
import type { Logger } from "@parley/observability";
import { sql } from "drizzle-orm";
import type { Clock } from "../../clock";
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
 * Both the hot table and archive storage are purged, in batches of `batchSize` rows per short statement
 * (`SKIP LOCKED`: a conversation being written is left for the next batch), until nothing older is left.
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

  private async purgeTable(table: "messages" | "archived_messages", type: ConversationType, cutoff: Date, now: Date): Promise<number> {
    const c = schema.conversations;
    const t = table === "messages" ? schema.messages : schema.archivedMessages;
    let total = 0;
    for (;;) {
      // A tombstone (deleted_at set) already has no content: only live rows are touched, through their age index.
      const rows = await this.options.database.db.execute<{ id: string }>(sql`
        UPDATE ${t} SET content = '', attachments = '[]'::jsonb, deleted_at = ${now.toISOString()}::timestamptz
        WHERE ${t.id} IN (
          SELECT ${t.id} FROM ${t}
          WHERE ${t.createdAt} < ${cutoff.toISOString()}::timestamptz AND ${t.deletedAt} IS NULL
            AND ${t.conversationId} IN (SELECT ${c.id} FROM ${c} WHERE ${c.type} = ${type})
          LIMIT ${this.options.batchSize}
          FOR UPDATE SKIP LOCKED
        )
        RETURNING ${t.id}`);
      total += rows.length;
      if (rows.length < this.options.batchSize) return total;
    }
  }
}
