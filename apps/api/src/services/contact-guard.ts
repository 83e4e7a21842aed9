import type { ContactStateRepository } from "../repositories/contact-state-repository";
import type { Clock } from "@parley/config";
import type { OutboxEntry } from "../repositories/outbox-repository";
import type { ParticipantRepository } from "../repositories/participant-repository";
import type { Tx } from "@parley/db";
import { directKey } from "./conversation-service";
import type { ConversationViews } from "./conversation-view";
import type { Policy } from "./policy";
import type { AppendSystemMessage } from "./system-messages";
import type { UserDirectoryService } from "./user-directory-service";

export interface ContactGuardDeps {
  readonly contacts: ContactStateRepository;
  readonly participants: ParticipantRepository;
  readonly directory: UserDirectoryService;
  readonly views: ConversationViews;
  readonly policy: Policy;
  readonly clock: Clock;
  readonly appendSystemMessage: AppendSystemMessage;
}

/**
 * Keeps the policy true for the whole life of a conversation. Whenever something that decides who may talk
 * changes (a relationship, a role, a block, an erasure), the caller runs this in the same transaction: direct
 * conversations of the affected pairs are closed or reopened (`conversations.closed_at`), and group members
 * whose owner may no longer contact them are removed when the policy says `on_contact_lost: "remove"`.
 * The send path then only reads `closed_at` in the access query it already makes.
 */
export class ContactGuard {
  constructor(private readonly deps: ContactGuardDeps) {}

  /** Re-evaluates these pairs; answers the `conversation_updated` entries to add to the caller's outbox. */
  async pairsChanged(tx: Tx, pairs: readonly (readonly [string, string])[]): Promise<OutboxEntry[]> {
    const entries: OutboxEntry[] = [];
    for (const [a, b] of pairs) {
      const direct = await this.deps.contacts.directOf(tx, directKey(a, b));
      if (direct) entries.push(...(await this.settle(tx, direct.id, direct.closed, a, b)));
    }
    entries.push(...(await this.groupsOf(tx, pairs.flat(), new Set(pairs.map(([a, b]) => directKey(a, b))))));
    return entries;
  }

  /** Re-evaluates everything a user takes part in (their role changed, they were erased). */
  async userChanged(tx: Tx, userId: string): Promise<OutboxEntry[]> {
    const entries: OutboxEntry[] = [];
    for (const pair of await this.deps.contacts.directPartners(tx, userId)) {
      entries.push(...(await this.settle(tx, pair.conversationId, pair.closed, userId, pair.otherId)));
    }
    entries.push(...(await this.groupsOf(tx, [userId], undefined)));
    return entries;
  }

  /** Whether `a` may contact `b` right now: the policy's rules, relationships, blocks (either way), erasure. */
  async allowed(tx: Tx, a: string, b: string): Promise<boolean> {
    const users = await this.deps.directory.requireUsers([a, b], "user_id", tx).catch(() => undefined);
    const from = users?.get(a);
    if (!from || !users?.has(b) || from.erasedAt !== null) return false;
    return (await this.deps.directory.contactableAmong({ id: from.id, role: from.role, exp: 0 }, [b], tx)).has(b);
  }

  private async settle(tx: Tx, conversationId: string, closed: boolean, a: string, b: string): Promise<OutboxEntry[]> {
    const open = await this.allowed(tx, a, b);
    if (open === !closed) return [];
    await this.deps.contacts.setClosed(tx, conversationId, open ? null : this.deps.clock.now());
    return this.deps.views.updatedEvents(tx, conversationId, [a, b]);
  }

  /** Groups where the owner may no longer contact a member: that member leaves when the policy says so. */
  private async groupsOf(tx: Tx, userIds: readonly string[], onlyPairs: ReadonlySet<string> | undefined): Promise<OutboxEntry[]> {
    const { policy, contacts, participants, directory, views, clock } = this.deps;
    if (policy.onContactLost === "keep") return [];
    const entries: OutboxEntry[] = [];
    for (const membership of await contacts.groupMemberships(tx, [...new Set(userIds)])) {
      if (onlyPairs !== undefined && !onlyPairs.has(directKey(membership.ownerId, membership.memberId))) continue;
      const owner = (await directory.requireUsers([membership.ownerId], "user_id", tx)).get(membership.ownerId);
      // Moderators may put anyone in a group: their groups are not bound by contact rules.
      if (!owner || policy.isModerator(owner.role)) continue;
      if (await this.allowed(tx, membership.ownerId, membership.memberId)) continue;
      const before = await participants.activeUserIds(tx, membership.conversationId);
      await participants.markLeft(tx, membership.conversationId, membership.memberId, clock.now());
      const name = (await directory.requireUsers([membership.memberId], "user_id", tx)).get(membership.memberId)?.displayName ?? membership.memberId;
      await this.deps.appendSystemMessage(tx, membership.conversationId, `${name} was removed`);
      entries.push(...(await views.updatedEvents(tx, membership.conversationId, before)));
    }
    return entries;
  }
}
