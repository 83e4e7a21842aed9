import type { Database } from "@parley/db";
import { ParleyError, type EditMessageBody, type HistoryQuery, type Message, type Page, type SendMessageBody } from "@parley/protocol";
import type { MessageRepository, ParticipantRole } from "../repositories/message-repository";
import type { OutboxRelay } from "../events/outbox-relay";
import type { OutboxRepository } from "../repositories/outbox-repository";
import type { Executor, Tx } from "../repositories/transaction";
import type { Actor, Clock } from "./actor";
import type { MessageWriter } from "./message-writer";
import { toMessage, type MessageRow } from "./message-view";
import { SERVICE_ROLE, type Policy } from "./policy";
import type { RateLimits } from "./rate-limits";

export interface MessageServiceDeps {
  readonly database: Database;
  readonly messages: MessageRepository;
  readonly writer: MessageWriter;
  readonly outbox: OutboxRepository;
  readonly limits: RateLimits;
  readonly policy: Policy;
  readonly relay: Pick<OutboxRelay, "kick">;
  readonly clock: Clock;
  /** MAX_MESSAGE_LENGTH, in characters (code points). */
  readonly maxMessageLength: number;
  /** Called once per new message after it committed (metrics); never for an idempotent retry. */
  readonly onSent?: (message: Message) => void;
}

export interface SendOutcome {
  readonly message: Message;
  /** False when the client_msg_id was already used: the first message is returned again. */
  readonly created: boolean;
}

/** How the caller relates to a conversation: a participant with a role, or a service acting anywhere. */
type Access = { kind: "participant"; role: ParticipantRole } | { kind: "service" };

/** Sending, history, edits and deletions of messages. */
export class MessageService {
  constructor(private readonly deps: MessageServiceDeps) {}

  async send(actor: Actor, conversationId: string, body: SendMessageBody): Promise<SendOutcome> {
    const { database, messages, writer } = this.deps;
    const service = actor.role === SERVICE_ROLE;
    if (body.type === "system" && !service) throw new ParleyError("forbidden", "type: only service tokens post system messages", "type");
    this.checkContent(body.content, body.attachments.length);
    const senderId = service ? null : actor.id;

    // A retry is found inside the transaction, under the client_msg_id lock: a lookup before it as well would
    // cost every new message a round trip to spare the rare retry a transaction.
    const outcome = await database.db.transaction(async (tx) => {
      // Independent, so sent together: the access check reads nothing the lock protects.
      await Promise.all([this.access(tx, actor, conversationId), messages.lockClientMsgId(tx, senderId ?? `service:${conversationId}`, body.client_msg_id)]);
      const raced = await messages.findByClientMsgId(tx, senderId, body.client_msg_id, conversationId);
      if (raced) return { row: raced, created: false };
      const replyTo = body.reply_to ?? null;
      if (replyTo !== null) {
        const target = await messages.locate(tx, replyTo);
        if (target?.row.conversationId !== conversationId) {
          throw new ParleyError("invalid_request", "reply_to: no such message in this conversation", "reply_to");
        }
      }
      const row = await writer.append(
        tx,
        {
          conversationId,
          senderId,
          type: body.type,
          content: body.content,
          clientMsgId: body.client_msg_id,
          replyTo,
          attachments: body.attachments,
        },
        // Counted here, once the message is known to be new and valid (idempotent retries are free), while the
        // conversation is being locked; a refusal rolls the transaction back before anything is written.
        { beforeWrite: () => this.deps.limits.consumeMessage(actor.id) },
      );
      return { row, created: true };
    });
    const message = this.replayed(outcome.row, conversationId);
    if (outcome.created) {
      this.deps.relay.kick();
      this.deps.onSent?.(message);
    }
    return { message, created: outcome.created };
  }

  /**
   * A page of history in ascending seq. Without a bound: the newest page, and next_cursor is the seq to pass
   * as before_seq for older messages. With before_seq: likewise, older. With after_seq: next_cursor is the seq
   * to pass as after_seq for newer ones. Null when nothing more lies in that direction.
   */
  async history(actor: Actor, conversationId: string, query: HistoryQuery): Promise<Page<Message>> {
    const { database, messages } = this.deps;
    await this.access(database.db, actor, conversationId);
    const rows = await messages.page(database.db, conversationId, { beforeSeq: query.before_seq, afterSeq: query.after_seq, limit: query.limit });
    const more = rows.length > query.limit;
    const pageRows = rows.slice(0, query.limit);
    const forward = query.after_seq !== undefined;
    if (!forward) pageRows.reverse();
    const edge = forward ? pageRows.at(-1) : pageRows[0];
    return { items: pageRows.map(toMessage), next_cursor: more && edge ? String(edge.seq) : null };
  }

  /** The sender changes the content; `message_updated` goes to every participant. */
  async edit(actor: Actor, messageId: string, body: EditMessageBody): Promise<Message> {
    const { database, messages, outbox, clock } = this.deps;
    const row = await database.db.transaction(async (tx) => {
      const { found } = await this.lockMessage(tx, actor, messageId);
      if (found.row.senderId === null || found.row.senderId !== actor.id) throw new ParleyError("forbidden", "Only the sender may edit a message.");
      if (found.row.deletedAt !== null) throw new ParleyError("conflict", "The message was deleted.");
      this.checkContent(body.content, found.row.attachments.length);
      const updated = await messages.updateContent(tx, messageId, found.archived, body.content, clock.now());
      const participants = await messages.activeParticipantIds(tx, updated.conversationId);
      await outbox.add(tx, [{ recipients: participants, event: { type: "message_updated", conversation_id: updated.conversationId, message: toMessage(updated) } }]);
      return updated;
    });
    this.deps.relay.kick();
    return toMessage(row);
  }

  /**
   * Leaves a tombstone (seq kept, content and attachments gone). Allowed to the sender, an owner or admin of a
   * group or support conversation, a moderator of the policy, and services. Deleting twice is a no-op.
   */
  async remove(actor: Actor, messageId: string): Promise<void> {
    const { database, messages, outbox, writer, policy, clock } = this.deps;
    const changed = await database.db.transaction(async (tx) => {
      const { found, access, conversationType } = await this.lockMessage(tx, actor, messageId);
      const groupAdmin = access.kind === "participant" && conversationType !== "direct" && (access.role === "owner" || access.role === "admin");
      const own = found.row.senderId !== null && found.row.senderId === actor.id;
      if (!own && !groupAdmin && !policy.isModerator(actor.role)) throw new ParleyError("forbidden", "Only the sender or a conversation admin may delete this message.");
      if (found.row.deletedAt !== null) return false;
      const { conversationId, seq, senderId } = found.row;
      // Archived messages count in nobody's unread, so deleting one changes no count.
      const hadUnread = found.archived ? [] : await messages.unreadBy(tx, conversationId, seq, senderId);
      await messages.tombstone(tx, messageId, found.archived, clock.now());
      const participants = await messages.activeParticipantIds(tx, conversationId);
      await outbox.add(tx, [
        { recipients: participants, event: { type: "message_deleted", conversation_id: conversationId, message_id: messageId, seq } },
        ...(await writer.unreadEvents(tx, conversationId, hadUnread)),
      ]);
      return true;
    });
    if (changed) this.deps.relay.kick();
  }

  /** 404 unless the caller is an active participant (or a service and the conversation exists). */
  async access(ex: Executor, actor: Actor, conversationId: string): Promise<Access> {
    if (actor.role === SERVICE_ROLE) {
      if (!(await this.deps.messages.conversationExists(ex, conversationId))) throw new ParleyError("not_found");
      return { kind: "service" };
    }
    const participant = await this.deps.messages.activeParticipant(ex, conversationId, actor.id);
    if (!participant) throw new ParleyError("not_found");
    return { kind: "participant", role: participant.role };
  }

  /** Finds a message the caller may see and locks its conversation, so edits and deletions apply in commit order. */
  private async lockMessage(tx: Tx, actor: Actor, messageId: string) {
    const { messages } = this.deps;
    const located = await messages.locate(tx, messageId);
    if (!located) throw new ParleyError("not_found");
    const access = await this.access(tx, actor, located.row.conversationId);
    const conversation = await messages.lockConversation(tx, located.row.conversationId, "update");
    // Read again under the lock: a concurrent edit, deletion or archival may have committed meanwhile.
    const found = conversation && (await messages.locate(tx, messageId));
    if (!conversation || !found) throw new ParleyError("not_found");
    return { found, access, conversationType: conversation.type };
  }

  private checkContent(content: string, attachments: number): void {
    const max = this.deps.maxMessageLength;
    if (content.length > max && codePoints(content) > max) {
      throw new ParleyError("message_too_large", `content: at most ${max} characters`, "content");
    }
    if (content.trim() === "" && attachments === 0) throw new ParleyError("invalid_request", "content: must not be empty", "content");
  }

  private replayed(row: MessageRow, conversationId: string): Message {
    if (row.conversationId !== conversationId) {
      throw new ParleyError("conflict", "client_msg_id: already used for a message in another conversation", "client_msg_id");
    }
    return toMessage(row);
  }
}

/** Length in characters (code points, as PostgreSQL's char_length counts), not UTF-16 units: an emoji is one. */
function codePoints(text: string): number {
  return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
}
