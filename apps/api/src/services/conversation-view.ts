import type { Conversation, Participant } from "@parley/protocol";
import type { ConversationRepository, ConversationRow } from "../repositories/conversation-repository";
import type { OutboxEntry } from "../repositories/outbox-repository";
import type { ParticipantRepository, ParticipantWithUser } from "../repositories/participant-repository";
import type { Executor } from "@parley/db";
import { toWireConversation } from "@parley/protocol";
import type { MessageRow } from "../repositories/message-columns";

/** What one viewer sees differently from everyone else. */
export interface ViewerState {
  readonly muted: boolean;
  /** The viewer's own archive flag (the worker's archived_at applies on top of it). */
  readonly archived: boolean;
  readonly unread: number;
}

/** A viewer who is not a participant (a service token): no flags, nothing unread. */
export const NEUTRAL_VIEWER: ViewerState = { muted: false, archived: false, unread: 0 };

export function toParticipant(row: ParticipantWithUser): Participant {
  return {
    user_id: row.userId,
    role: row.role,
    joined_at: row.joinedAt.toISOString(),
    display_name: row.displayName,
    user_role: row.userRole,
    last_read_seq: row.lastReadSeq,
    delivered_seq: row.deliveredSeq,
  };
}

/** The wire form of a conversation for one viewer; `archived` is the viewer's flag or the worker's idle archive. */
export function toConversation(
  row: ConversationRow,
  viewer: ViewerState,
  lastMessage: MessageRow | null,
  participants?: readonly ParticipantWithUser[],
): Conversation {
  return {
    ...toWireConversation(row, viewer, lastMessage),
    ...(participants === undefined ? {} : { participants: participants.map(toParticipant) }),
  };
}

/**
 * Builds conversation views from storage: one viewer's (GET, PATCH answers) or every recipient's
 * `conversation_updated` event, each with their own flags and unread count.
 */
export class ConversationViews {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly participants: ParticipantRepository,
  ) {}

  /** The conversation as `viewerId` sees it (undefined viewer: a service token), participants included. */
  async forViewer(executor: Executor, conversationId: string, viewerId: string | undefined): Promise<Conversation | undefined> {
    const found = await this.conversations.findWithLastMessage(executor, conversationId);
    if (!found) return undefined;
    const [members, states] = await Promise.all([
      this.participants.listActive(executor, [conversationId]),
      viewerId === undefined ? Promise.resolve([]) : this.participants.states(executor, conversationId, [viewerId]),
    ]);
    const state = states[0];
    return toConversation(found.conversation, state ?? NEUTRAL_VIEWER, found.lastMessage, members);
  }

  /**
   * Outbox entries carrying `conversation_updated` to each recipient with their own view. Recipients who see the
   * same thing share one entry, so a large group costs a few rows, not one per member.
   */
  async updatedEvents(tx: Executor, conversationId: string, recipients: readonly string[]): Promise<OutboxEntry[]> {
    const unique = [...new Set(recipients)];
    if (unique.length === 0) return [];
    const found = await this.conversations.findWithLastMessage(tx, conversationId);
    if (!found) return [];
    const members = await this.participants.listActive(tx, [conversationId]);
    const states = new Map((await this.participants.states(tx, conversationId, unique)).map((s) => [s.userId, s]));
    const groups = new Map<string, OutboxEntry & { recipients: string[] }>();
    for (const userId of unique) {
      const conversation = toConversation(found.conversation, states.get(userId) ?? NEUTRAL_VIEWER, found.lastMessage, members);
      const key = JSON.stringify(conversation);
      const group = groups.get(key);
      if (group) group.recipients.push(userId);
      else groups.set(key, { recipients: [userId], event: { type: "conversation_updated", conversation } });
    }
    return [...groups.values()];
  }
}
