import { schema, type Database } from "@parley/db";
import type { Logger } from "@parley/observability";
import { sql } from "drizzle-orm";
import type { Clock } from "../../clock";
import type { WorkerMetrics } from "../../metrics";

export interface PurgerOptions {
  readonly database: Database;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: WorkerMetrics;
  /** MESSAGE_RETENTION in ms; undefined: messages are kept for ever and a run does nothing. */
  readonly retentionMs: number | undefined;
  /** Messages tombstoned per statement (RETENTION_BATCH_SIZE). */
  readonly batchSize: number;
}

export interface PurgeRunResult {
  /** Messages of the hot table turned into tombstones by this run. */
  readonly hot: number;
  /** Messages of archive storage turned into tombstones by this run. */
  readonly archived: number;
  /** Nothing older than this remains with content (ISO time), or null when retention is off. */
  readonly cutoff: string | null;
}

/**
 * MESSAGE_RETENTION: messages older than the retention lose their content and attachments and become tombstones,
 * exactly as a deletion leaves them: the seq stays, so histories keep no gaps and clients see `deleted: true`.
 * Both the hot table and archive storage are purged, in batches of `batchSize` rows per short statement
 * (`SKIP LOCKED`: a conversation being written is left for the next batch), until nothing older is left.
 */
export class Purger {
  constructor(private readonly options: PurgerOptions) {}

  async run(now: Date): Promise<PurgeRunResult> {
    const { retentionMs, logger, metrics } = this.options;
    if (retentionMs === undefined) return { hot: 0, archived: 0, cutoff: null };
    const started = performance.now();
    const cutoff = new Date(now.getTime() - retentionMs);
    const hot = await this.purgeTable("messages", cutoff, now);
    const archived = await this.purgeTable("archived_messages", cutoff, now);
    metrics.messagesPurged.inc({ storage: "hot" }, hot);
    metrics.messagesPurged.inc({ storage: "archived" }, archived);
    logger.info({ cutoff: cutoff.toISOString(), hot, archived, duration_ms: Math.round(performance.now() - started) }, "retention purge done");
    return { hot, archived, cutoff: cutoff.toISOString() };
  }

  private async purgeTable(table: "messages" | "archived_messages", cutoff: Date, now: Date): Promise<number> {
    const t = table === "messages" ? schema.messages : schema.archivedMessages;
    let total = 0;
    for (;;) {
      // A tombstone (deleted_at set) already has no content: only live rows are touched, through their age index.
      const rows = await this.options.database.db.execute<{ id: string }>(sql`
        UPDATE ${t} SET content = '', attachments = '[]'::jsonb, deleted_at = ${now.toISOString()}::timestamptz
        WHERE ${t.id} IN (
          SELECT ${t.id} FROM ${t}
          WHERE ${t.createdAt} < ${cutoff.toISOString()}::timestamptz AND ${t.deletedAt} IS NULL
          LIMIT ${this.options.batchSize}
          FOR UPDATE SKIP LOCKED
        )
        RETURNING ${t.id}`);
      total += rows.length;
      if (rows.length < this.options.batchSize) return total;
    }
  }
}
