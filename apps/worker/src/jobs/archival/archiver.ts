import type { Clock } from "@parley/config";
import type { Database, OutboxEvent, Tx } from "@parley/db";
import type { Logger } from "@parley/observability";
import { conversationEvent, toWireConversation, type Conversation, type ConversationEvent } from "@parley/protocol";
import type { WorkerMetrics } from "../../metrics";
import { ArchivalRepository, type ConversationRow } from "./archival-repository";

export interface ArchiverOptions {
  readonly database: Database;
  /** The job's queries; a new one when not given (it keeps no state). */
  readonly repository?: ArchivalRepository;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: WorkerMetrics;
  /** ARCHIVE_AFTER: conversations idle for longer than this are archived. */
  readonly archiveAfterMs: number;
  /** Messages moved per transaction. */
  readonly moveBatch?: number;
  /** Conversations marked per transaction (and listed per query when finishing interrupted moves). */
  readonly markBatch?: number;
  /** Conversations one run marks or finishes moving at most; the next run continues (default 1,000). */
  readonly maxPerRun?: number;
}

export interface ArchiveRunResult {
  /** Conversations this run marked archived. */
  readonly archived: number;
  /** Messages this run moved to archive storage (including those of earlier, interrupted runs). */
  readonly moved: number;
  /** The run stopped at its cap (work may be left): the next run continues. */
  readonly capped: boolean;
}

/**
 * Archives idle conversations in two restartable steps, each in short transactions:
 * 1. mark: conversations idle past the cutoff get `archived_at`, and `conversation_updated` for every active
 *    participant goes into the outbox in the same transaction (the API's relay publishes it);
 * 2. move: the messages of every archived conversation still in the hot table move to archived_messages in
 *    batches, each under the conversation row lock, so a restore or a new message (which restores) in between
 *    simply stops the move.
 * Rows are taken with `FOR NO KEY UPDATE SKIP LOCKED`, so several archivers never mark or move the same
 * conversation at once, and a crash between batches leaves work that the next run finishes. The API reads
 * history over both tables, so a conversation is readable at every point of the move.
 * A run first finishes moves left by earlier runs, then marks and moves one batch at a time, and stops after
 * `maxPerRun` conversations: memory and run time stay bounded however many conversations went idle at once.
 */
export class Archiver {
  private readonly moveBatch: number;
  private readonly markBatch: number;
  private readonly maxPerRun: number;
  private readonly repository: ArchivalRepository;

  constructor(private readonly options: ArchiverOptions) {
    this.repository = options.repository ?? new ArchivalRepository();
    this.moveBatch = options.moveBatch ?? 500;
    this.markBatch = options.markBatch ?? 100;
    this.maxPerRun = options.maxPerRun ?? 1_000;
  }

  async run(now: Date = this.options.clock.now()): Promise<ArchiveRunResult> {
    const cutoff = new Date(now.getTime() - this.options.archiveAfterMs);
    let budget = this.maxPerRun;
    let moved = 0;
    let capped = false;
    // Leftovers of interrupted runs first, a page at a time (keyset: a conversation another node holds is passed).
    let after: string | undefined;
    while (budget > 0) {
      const limit = Math.min(this.markBatch, budget);
      const page = await this.conversationsToMove(limit, after);
      for (const id of page) moved += await this.moveMessages(id);
      budget -= page.length;
      after = page.at(-1);
      if (page.length < limit) break;
      capped = budget === 0;
    }
    let archived = 0;
    while (budget > 0) {
      const limit = Math.min(this.markBatch, budget);
      const marked = await this.markIdle(cutoff, now, limit);
      archived += marked.length;
      budget -= marked.length;
      // Moved right away: a run never holds more than one batch of marked, unmoved conversations.
      for (const id of marked) moved += await this.moveMessages(id);
      if (marked.length < limit) break;
      capped = budget === 0;
    }
    if (archived > 0 || moved > 0) this.options.logger.info({ archived, moved, capped, cutoff: cutoff.toISOString() }, "idle conversations archived");
    return { archived, moved, capped };
  }

  /** Marks up to `limit` idle conversations archived and records their events in one transaction; returns their ids. */
  async markIdle(cutoff: Date, now: Date, limit: number = this.markBatch): Promise<string[]> {
    const ids = await this.options.database.db.transaction(async (tx) => {
      const idle = await this.repository.lockIdle(tx, cutoff, limit);
      if (idle.length === 0) return [];
      const rows = await this.repository.markArchived(tx, idle, now);
      await this.repository.recordEvents(tx, await this.updatedEvents(tx, rows));
      return rows.map((row) => row.id);
    });
    this.options.metrics.conversationsArchived.inc(ids.length);
    return ids;
  }

  /**
   * Up to `limit` archived conversations with messages still in the hot table (left by an interrupted run, or
   * just marked by another node), by id after `after`: paging by id passes one another node holds right now.
   */
  async conversationsToMove(limit: number, after?: string): Promise<string[]> {
    return this.repository.conversationsToMove(this.options.database.db, limit, after);
  }

  /** Moves one conversation's hot messages in batches; stops if it was restored or another node holds it. */
  async moveMessages(conversationId: string): Promise<number> {
    let moved = 0;
    for (;;) {
      const batch = await this.options.database.db.transaction(async (tx) => {
        if (!(await this.repository.lockArchived(tx, conversationId))) return undefined;
        return this.repository.moveMessages(tx, conversationId, this.moveBatch);
      });
      if (batch === undefined) break;
      moved += batch;
      if (batch < this.moveBatch) break;
    }
    return moved;
  }

  /** `conversation_updated` for each active participant, with their own unread count and flags. */
  private async updatedEvents(tx: Tx, rows: readonly ConversationRow[]): Promise<OutboxEvent[]> {
    const members = await this.repository.activeMembers(tx, rows.map((row) => row.id));
    const lastIds = rows.flatMap((row) => (row.lastMessageId === null ? [] : [row.lastMessageId]));
    // Unarchived conversations keep every message in the hot table (a restore moves all of them back at once).
    const lastById = new Map((await this.repository.hotMessages(tx, lastIds)).map((message) => [message.id, message]));

    const groups = new Map<string, { recipients: string[]; event: ConversationEvent }>();
    for (const member of members) {
      const row = rows.find((candidate) => candidate.id === member.conversationId);
      if (!row) continue;
      const last = row.lastMessageId === null ? undefined : lastById.get(row.lastMessageId);
      const conversation: Conversation = toWireConversation(row, { unread: member.unread, muted: member.muted, archived: true }, last ?? null);
      // Validated here: the relay skips (and logs) an event that does not match the protocol.
      const event = conversationEvent.parse({ type: "conversation_updated", conversation });
      const key = JSON.stringify(event);
      const group = groups.get(key);
      if (group) group.recipients.push(member.userId);
      else groups.set(key, { recipients: [member.userId], event });
    }
    return [...groups.values()];
  }
}
