import type { BlockSignal } from "@parley/bus";
import type { Clock } from "@parley/config";
import type { Database } from "@parley/db";
import { ParleyError, type Block, type Page } from "@parley/protocol";
import { z } from "zod";
import type { OutboxRelay } from "../events/outbox-relay";
import type { BlockRepository } from "../repositories/block-repository";
import type { OutboxRepository } from "../repositories/outbox-repository";
import type { Actor } from "./actor";
import { isService } from "./conversation-access";
import type { ContactGuard } from "./contact-guard";
import { decodeCursor, pageOf } from "./page-cursor";
import type { UserDirectoryService } from "./user-directory-service";

export interface BlockServiceDeps {
  readonly database: Database;
  readonly blocks: BlockRepository;
  readonly directory: UserDirectoryService;
  readonly guard: ContactGuard;
  readonly outbox: OutboxRepository;
  readonly relay: Pick<OutboxRelay, "kick">;
  readonly clock: Clock;
  /** Tells every edge after the commit (presence watches between the two stop, typing filters change). */
  readonly announce: (signal: BlockSignal) => Promise<void>;
}

const blockCursor = z.object({ id: z.string() });

/**
 * One user blocking another. The pair's direct conversation closes both ways with the same code as a lost
 * relationship (the reason is not revealed), and search, presence, typing and e-mail respect it.
 */
export class BlockService {
  constructor(private readonly deps: BlockServiceDeps) {}

  async block(actor: Actor, userId: string): Promise<void> {
    this.assertUser(actor, userId);
    const { database, blocks, directory, guard, outbox, clock } = this.deps;
    const changed = await database.db.transaction(async (tx) => {
      await directory.requireUsers([userId], "user_id", tx);
      if (!(await blocks.insert(tx, actor.id, userId, clock.now()))) return false;
      await outbox.add(tx, await guard.pairsChanged(tx, [[actor.id, userId]]));
      return true;
    });
    if (changed) await this.changed({ blocker_id: actor.id, blocked_id: userId, blocked: true });
  }

  async unblock(actor: Actor, userId: string): Promise<void> {
    this.assertUser(actor, userId);
    const { database, blocks, guard, outbox } = this.deps;
    const changed = await database.db.transaction(async (tx) => {
      if (!(await blocks.delete(tx, actor.id, userId))) return false;
      await outbox.add(tx, await guard.pairsChanged(tx, [[actor.id, userId]]));
      return true;
    });
    if (changed) await this.changed({ blocker_id: actor.id, blocked_id: userId, blocked: false });
  }

  private async changed(signal: BlockSignal): Promise<void> {
    this.deps.relay.kick();
    await this.deps.announce(signal);
  }

  async list(actor: Actor, query: { limit: number; cursor?: string | undefined }): Promise<Page<Block>> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, blockCursor).id;
    const rows = await this.deps.blocks.listOf(this.deps.database.db, actor.id, { limit: query.limit + 1, ...(after === undefined ? {} : { afterId: after }) });
    return pageOf(rows, query.limit, (row) => ({ user_id: row.blockedId, created_at: row.createdAt.toISOString() }), (row) => ({ id: row.blockedId }));
  }

  private assertUser(actor: Actor, userId: string): void {
    if (isService(actor)) throw new ParleyError("forbidden", "Service tokens have no one to block.");
    if (userId === actor.id) throw new ParleyError("invalid_request", "user_id: you cannot block yourself", "user_id");
  }
}
