import type { Clock } from "@parley/config";
import { ParleyError, type Conversation } from "@parley/protocol";
import type { ArchiveRepository } from "../repositories/archive-repository";
import type { Actor } from "./actor";
import type { ConversationViews } from "./conversation-view";
import type { MessageDeps } from "./message-deps";

export interface RestoreServiceDeps extends MessageDeps {
  readonly archive: ArchiveRepository;
  readonly views: ConversationViews;
  readonly clock: Clock;
}

/** Brings back conversations the worker archived for being idle. */
export class RestoreService {
  constructor(private readonly deps: RestoreServiceDeps) {}

  /**
   * Moves the archived history back (seqs unchanged), clears archived_at and tells every participant with
   * `conversation_updated`, and counts as activity. A conversation that is not archived is returned unchanged.
   * Participants only.
   */
  async restore(actor: Actor, conversationId: string): Promise<Conversation> {
    const { database, messages, archive, views, outbox } = this.deps;
    const notFound = () => new ParleyError("not_found", "No such conversation.");
    if (!(await messages.activeParticipant(database.db, conversationId, actor.id))) throw notFound();
    const restored = await database.db.transaction(async (tx) => {
      const conversation = await messages.lockConversation(tx, conversationId, "update");
      if (!conversation) throw notFound();
      if (conversation.archivedAt === null) return false;
      // A restore is activity: the conversation stays back until it is idle for ARCHIVE_AFTER again.
      await archive.restore(tx, conversationId, this.deps.clock.now());
      await outbox.add(tx, await views.updatedEvents(tx, conversationId, await this.deps.participants.activeUserIds(tx, conversationId)));
      return true;
    });
    if (restored) this.deps.relay.kick();
    const view = await views.forViewer(database.db, conversationId, actor.id);
    if (!view) throw notFound();
    return view;
  }
}
