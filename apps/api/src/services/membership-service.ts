import { ParleyError, type AddParticipantsBody, type Page, type Participant } from "@parley/protocol";
import type { ConversationRow } from "../repositories/conversation-repository";
import type { ParticipantRow } from "../repositories/participant-repository";
import type { RecipientUnreadRepository } from "../repositories/recipient-unread-repository";
import type { Tx } from "@parley/db";
import type { Actor } from "./actor";
import { conversationNotFound, isService, unique } from "./conversation-access";
import type { ConversationDeps } from "./conversation-service";
import { toParticipant } from "./conversation-view";
import type { AppendSystemMessage } from "./system-messages";

export interface MembershipServiceDeps extends ConversationDeps {
  readonly appendSystemMessage: AppendSystemMessage;
  readonly unread: Pick<RecipientUnreadRepository, "recount">;
}

/** Who is acting on a conversation, resolved under its row lock. */
interface Access {
  readonly conversation: ConversationRow;
  /** The actor's own membership (undefined for service tokens and outside moderators). */
  readonly self: ParticipantRow | undefined;
  /** Service tokens and policy moderators manage any group and bypass contact rules. */
  readonly moderator: boolean;
}

const NAMES_SHOWN = 5;

/** "Ada", "Ada and Bob", "Ada, Bob and Cy", "Ada, Bob, ... and 3 others". */
export function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? "";
  if (names.length > NAMES_SHOWN) return `${names.slice(0, NAMES_SHOWN - 1).join(", ")} and ${names.length - NAMES_SHOWN + 1} others`;
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1) ?? ""}`;
}

/**
 * Group and support membership. Every change runs under the conversation row lock, leaves a system message
 * in the history, and sends conversation_updated to everyone who was or now is a member.
 */
export class MembershipService {
  constructor(private readonly deps: MembershipServiceDeps) {}

  /** Adds (or brings back) members; answers the resulting member list. */
  async add(actor: Actor, conversationId: string, body: AddParticipantsBody): Promise<Page<Participant>> {
    const { database, participants, directory, outbox, views, clock } = this.deps;
    const ids = unique(body.user_ids);
    const members = await database.db.transaction(async (tx) => {
      const access = await this.access(tx, actor, conversationId);
      if (!access.moderator && access.self?.role === "member") throw new ParleyError("forbidden", "Only the group's owner and admins add members.");
      const users = await directory.requireUsers(isService(actor) ? ids : [...ids, actor.id], "user_ids", tx);
      if (!access.moderator) await directory.assertContactable(actor, ids, "user_ids", tx);
      const before = await participants.activeUserIds(tx, conversationId);
      const added = ids.filter((userId) => !before.includes(userId));
      if (added.length > 0) {
        await participants.addOrRejoin(tx, conversationId, added, body.role, clock.now());
        // Whatever lies past their read mark (all of it for a newcomer, what they missed for a returning member).
        await this.deps.unread.recount(tx, conversationId, added);
        const names = listNames(added.map((userId) => users.get(userId)?.displayName ?? userId));
        const by = isService(actor) ? undefined : users.get(actor.id)?.displayName;
        await this.deps.appendSystemMessage(tx, conversationId, by === undefined ? `${names} joined` : `${by} added ${names}`);
        await outbox.add(tx, await views.updatedEvents(tx, conversationId, [...before, ...added]));
      }
      return participants.listActive(tx, [conversationId]);
    });
    this.deps.relay.kick();
    // The contract's one list shape; the member list is never paged.
    return { items: members.map(toParticipant), next_cursor: null };
  }

  /** Removes a member (owner/admins/moderators, never the owner) or lets anyone leave; the owner's leaving hands ownership on. */
  async remove(actor: Actor, conversationId: string, userId: string): Promise<void> {
    const { database, participants, directory, outbox, views, clock } = this.deps;
    await database.db.transaction(async (tx) => {
      const access = await this.access(tx, actor, conversationId);
      const leaving = userId === actor.id;
      const target = leaving ? access.self : await participants.findActive(tx, conversationId, userId);
      if (!leaving && !access.moderator && access.self?.role === "member") throw new ParleyError("forbidden", "Only the group's owner and admins remove members.");
      if (!target) throw new ParleyError("not_found", "user_id: not a member of this conversation", "user_id");
      if (!leaving && target.role === "owner") throw new ParleyError("forbidden", "The owner cannot be removed; they may leave.");
      const before = await participants.activeUserIds(tx, conversationId);
      await participants.markLeft(tx, conversationId, userId, clock.now());
      if (target.role === "owner") await participants.promoteNextOwner(tx, conversationId);
      const users = await directory.requireUsers(isService(actor) || leaving ? [userId] : [userId, actor.id], "user_id", tx);
      const name = users.get(userId)?.displayName ?? userId;
      const by = isService(actor) ? undefined : users.get(actor.id)?.displayName;
      await this.deps.appendSystemMessage(tx, conversationId, leaving ? `${name} left` : by === undefined ? `${name} was removed` : `${by} removed ${name}`);
      await outbox.add(tx, await views.updatedEvents(tx, conversationId, before));
    });
    this.deps.relay.kick();
  }

  /** Locks the conversation and resolves the actor's standing: 404 for outsiders, 400 for direct conversations. */
  private async access(tx: Tx, actor: Actor, conversationId: string): Promise<Access> {
    const conversation = await this.deps.conversations.findById(tx, conversationId, { lock: "no key update" });
    if (!conversation) throw conversationNotFound();
    const self = isService(actor) ? undefined : await this.deps.participants.findActive(tx, conversationId, actor.id);
    const moderator = this.deps.policy.isModerator(actor.role);
    if (!self && !moderator) throw conversationNotFound();
    if (conversation.type === "direct") throw new ParleyError("invalid_request", "A direct conversation always has its two people; open a group instead.");
    return { conversation, self, moderator };
  }
}
