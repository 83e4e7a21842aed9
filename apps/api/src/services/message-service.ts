import type { Database, Executor, Tx } from "@parley/db";
import { ParleyError, toWireMessage, type EditMessageBody, type HistoryQuery, type Message, type Page, type SendMessageBody } from "@parley/protocol";
import type { MessageRepository, ParticipantRole } from "../repositories/message-repository";
import type { OutboxRelay } from "../events/outbox-relay";
import type { OutboxRepository, PendingEvent } from "../repositories/outbox-repository";
import type { ParticipantRepository } from "../repositories/participant-repository";
import type { RecipientUnreadRepository } from "../repositories/recipient-unread-repository";
import type { ClientMsgKey, SendBatchRepository } from "../repositories/send-batch-repository";
import type { Registry } from "prom-client";
import { GroupCommit, type ItemOutcome } from "./group-commit";
import type { Clock } from "@parley/config";
import type { Actor } from "./actor";
import { assertWritable, closedRefusal } from "./conversation-access";
import type { MessageWriter } from "./message-writer";
import type { MessageRow } from "../repositories/message-columns";
import { SERVICE_ROLE, type Policy } from "./policy";
import type { RateLimits } from "../repositories/rate-limits";

export interface MessageServiceDeps {
  readonly database: Database;
  readonly messages: MessageRepository;
  readonly participants: Pick<ParticipantRepository, "activeUserIds">;
  readonly writer: MessageWriter;
  readonly outbox: OutboxRepository;
  readonly limits: RateLimits;
  readonly policy: Policy;
  readonly relay: Pick<OutboxRelay, "kick" | "claim" | "abandon" | "publishCommitted">;
  readonly batches: SendBatchRepository;
  readonly recipientUnread: RecipientUnreadRepository;
  readonly batching: SendBatching;
  readonly registry: Registry;
  readonly clock: Clock;
  /** MAX_MESSAGE_LENGTH, in characters (code points). */
  readonly maxMessageLength: number;
  /** Called once per new message after it committed (metrics); never for an idempotent retry. */
  readonly onSent?: (message: Message) => void;
}

/** Group commit of sends (SEND_BATCH_MAX, SEND_BATCH_WINDOW_MS, SEND_BATCHES_IN_FLIGHT). */
export interface SendBatching {
  readonly maxBatch: number;
  readonly windowMs: number;
  readonly maxInFlight: number;
}

export interface SendOutcome {
  readonly message: Message;
  /** False when the client_msg_id was already used: the first message is returned again. */
  readonly created: boolean;
}

interface SendRequest {
  readonly actor: Actor;
  readonly conversationId: string;
  readonly body: SendMessageBody;
}

interface Stored {
  readonly row: MessageRow;
  readonly created: boolean;
}

/** Null for a service: its system messages have no sender. */
function senderOf(actor: Actor): string | null {
  return actor.role === SERVICE_ROLE ? null : actor.id;
}

/** Whether `row` is the message already stored under `key` (see SendBatchRepository.findByClientMsgIds). */
function storedUnder(row: MessageRow, key: ClientMsgKey): boolean {
  if (row.clientMsgId !== key.clientMsgId || row.senderId !== key.senderId) return false;
  return key.senderId !== null || row.conversationId === key.conversationId;
}

/** How the caller relates to a conversation: a participant with a role, or a service acting anywhere. */
type Access = { kind: "participant"; role: ParticipantRole; closed: boolean } | { kind: "service"; closed: false };

/** Sending, history, edits and deletions of messages. */
export class MessageService {
  private readonly sends: GroupCommit<SendRequest, Stored>;

  constructor(private readonly deps: MessageServiceDeps) {
    this.sends = new GroupCommit({
      run: (requests) => this.writeSends(requests),
      keyOf: (request) => `${senderOf(request.actor) ?? `service:${request.conversationId}`}:${request.body.client_msg_id}`,
      // A batch locks its conversations' rows until it commits: a send to one of those goes in a later batch.
      lockKeyOf: (request) => request.conversationId,
      maxBatch: deps.batching.maxBatch,
      windowMs: deps.batching.windowMs,
      maxInFlight: deps.batching.maxInFlight,
      registry: deps.registry,
    });
  }

  async send(actor: Actor, conversationId: string, body: SendMessageBody): Promise<SendOutcome> {
    const service = actor.role === SERVICE_ROLE;
    if (body.type === "system" && !service) throw new ParleyError("forbidden", "type: only service tokens post system messages", "type");
    this.checkContent(body.content, body.attachments.length);
    const outcome = await this.sends.submit({ actor, conversationId, body });
    const message = this.replayed(outcome.row, conversationId);
    if (outcome.created) this.deps.onSent?.(message);
    return { message, created: outcome.created };
  }

  /** Resolves once every accepted send has been written and answered (shutdown). */
  drained(): Promise<void> {
    return this.sends.drained();
  }

  /**
   * One group-commit transaction for a batch of sends, across conversations: in one round trip the idempotency keys
   * locked (sorted), then the callers' memberships, messages already stored under their keys, reply_to targets and
   * the conversation row locks (sorted); the rate limit counted in one Redis round trip for what is new and valid;
   * then {@link MessageWriter.appendLocked}. An item refused (not found, bad reply_to, rate limited) is answered
   * alone and the others still commit. After the commit the batch's events are published from memory when no
   * other writer's event of these conversations is still unpublished (else the relay publishes them in order).
   */
  private async writeSends(requests: readonly SendRequest[]): Promise<ItemOutcome<Stored>[]> {
    const { database, batches, writer, outbox, limits, relay } = this.deps;
    const outcomes: ItemOutcome<Stored>[] = requests.map(() => ({ ok: false, error: new Error("send not decided") }));
    const counted: string[] = [];
    const claimed: PendingEvent[] = [];
    let committed: { events: PendingEvent[]; unpublished: number[] } | undefined;
    try {
      committed = await database.db.transaction(async (tx) => {
        const keys = requests.map((request) => ({ senderId: senderOf(request.actor), clientMsgId: request.body.client_msg_id, conversationId: request.conversationId }));
        const users = requests.filter((request) => request.actor.role !== SERVICE_ROLE).map((request) => ({ conversationId: request.conversationId, userId: request.actor.id }));
        const replyIds = requests.flatMap((request) => (request.body.reply_to ? [request.body.reply_to] : []));
        // One round trip: the statements of a transaction are pipelined and run in order, so the lookups below still
        // run only once the idempotency keys are locked (a racing retry's row is then visible to them).
        const [, roles, existing, replyConversations, locked] = await Promise.all([
          batches.lockClientMsgIds(tx, keys),
          batches.memberships(tx, users),
          batches.findByClientMsgIds(tx, keys),
          batches.conversationsOf(tx, replyIds),
          batches.lockConversations(tx, requests.map((request) => request.conversationId)),
        ]);

        const valid: number[] = [];
        requests.forEach((request, index) => {
          const key = keys[index];
          const allowed = request.actor.role === SERVICE_ROLE ? locked.has(request.conversationId) : roles.has(`${request.conversationId}:${request.actor.id}`);
          const stored = key && existing.find((row) => storedUnder(row, key));
          const replyTo = request.body.reply_to ?? null;
          // Service tokens may still post (system messages) into a closed conversation; its people may not.
          const closed = request.actor.role === SERVICE_ROLE ? undefined : closedRefusal({ closed: locked.get(request.conversationId)?.closed === true });
          if (!allowed) outcomes[index] = { ok: false, error: new ParleyError("not_found") };
          else if (closed) outcomes[index] = { ok: false, error: closed };
          else if (stored) outcomes[index] = { ok: true, value: { row: stored, created: false } };
          else if (replyTo !== null && replyConversations.get(replyTo) !== request.conversationId) {
            outcomes[index] = { ok: false, error: new ParleyError("invalid_request", "reply_to: no such message in this conversation", "reply_to") };
          } else valid.push(index);
        });

        // Counted once a message is known to be new and valid (idempotent retries are free), before anything is written.
        const refusals = await limits.consumeMessages(valid.map((index) => requests[index]?.actor.id ?? ""));
        const accepted = valid.filter((index, position) => {
          const refusal = refusals[position];
          if (refusal) outcomes[index] = { ok: false, error: refusal };
          return refusal === undefined;
        });
        counted.push(...accepted.map((index) => requests[index]?.actor.id ?? ""));
        if (accepted.length === 0) return undefined;

        const inputs = accepted.map((index) => {
          const request = requests[index];
          if (!request) throw new Error("accepted send out of range");
          return {
            conversationId: request.conversationId,
            senderId: senderOf(request.actor),
            type: request.body.type,
            content: request.body.content,
            clientMsgId: request.body.client_msg_id,
            replyTo: request.body.reply_to ?? null,
            attachments: request.body.attachments,
          };
        });
        const [written, unpublished] = await Promise.all([
          writer.appendLocked(tx, inputs, locked),
          outbox.unpublishedOf(tx, inputs.map((input) => input.conversationId)),
        ]);
        accepted.forEach((index, position) => {
          const row = written.rows[position];
          outcomes[index] = row ? { ok: true, value: { row, created: true } } : { ok: false, error: new Error("send not written") };
        });
        relay.claim(written.events);
        claimed.push(...written.events);
        return { events: written.events, unpublished };
      });
    } catch (error) {
      relay.abandon(claimed);
      // The batch rolled back: the points it counted are given back before its items are retried one by one.
      if (counted.length > 0) await limits.refundMessages(counted).catch(() => undefined);
      throw error;
    }
    if (committed) relay.publishCommitted(committed.events, committed.unpublished);
    return outcomes;
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
    return { items: pageRows.map(toWireMessage), next_cursor: more && edge ? String(edge.seq) : null };
  }

  /** The sender changes the content; `message_updated` goes to every participant. */
  async edit(actor: Actor, messageId: string, body: EditMessageBody): Promise<Message> {
    const { database, messages, outbox, clock } = this.deps;
    const row = await database.db.transaction(async (tx) => {
      const { found, access } = await this.lockMessage(tx, actor, messageId);
      if (found.row.senderId === null || found.row.senderId !== actor.id) throw new ParleyError("forbidden", "Only the sender may edit a message.");
      assertWritable(access);
      if (found.row.deletedAt !== null) throw new ParleyError("conflict", "The message was deleted.");
      this.checkContent(body.content, found.row.attachments.length);
      const updated = await messages.updateContent(tx, messageId, found.archived, body.content, clock.now());
      const participants = await this.deps.participants.activeUserIds(tx, updated.conversationId);
      await outbox.add(tx, [{ recipients: participants, event: { type: "message_updated", conversation_id: updated.conversationId, message: toWireMessage(updated) } }]);
      return updated;
    });
    this.deps.relay.kick();
    return toWireMessage(row);
  }

  /**
   * Leaves a tombstone (seq kept, content and attachments gone). Allowed to the sender, an owner or admin of a
   * group or support conversation, a moderator of the policy, and services. Deleting twice is a no-op.
   */
  async remove(actor: Actor, messageId: string): Promise<void> {
    const { database, messages, outbox, writer, policy, clock } = this.deps;
    const changed = await database.db.transaction(async (tx) => {
      const { found, access, conversationType } = await this.lockMessage(tx, actor, messageId, { moderator: policy.isModerator(actor.role) });
      const groupAdmin = access.kind === "participant" && conversationType !== "direct" && (access.role === "owner" || access.role === "admin");
      const own = found.row.senderId !== null && found.row.senderId === actor.id;
      if (!own && !groupAdmin && !policy.isModerator(actor.role)) throw new ParleyError("forbidden", "Only the sender or a conversation admin may delete this message.");
      if (found.row.deletedAt !== null) return false;
      const { conversationId, seq, senderId } = found.row;
      // Live or archived, the message counted for whoever had not read it.
      const [hadUnread] = await Promise.all([this.deps.recipientUnread.forgetMessage(tx, conversationId, seq, senderId), messages.tombstone(tx, messageId, found.archived, clock.now())]);
      const participants = await this.deps.participants.activeUserIds(tx, conversationId);
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
      return { kind: "service", closed: false };
    }
    const participant = await this.deps.messages.activeParticipant(ex, conversationId, actor.id);
    if (!participant) throw new ParleyError("not_found");
    return { kind: "participant", role: participant.role, closed: participant.closed };
  }

  /** Finds a message the caller may see and locks its conversation, so edits and deletions apply in commit order. */
  private async lockMessage(tx: Tx, actor: Actor, messageId: string, options: { moderator?: boolean } = {}) {
    const { messages } = this.deps;
    const located = await messages.locate(tx, messageId);
    if (!located) throw new ParleyError("not_found");
    // A policy moderator deletes reported messages in conversations they are not part of.
    const access: Access =
      options.moderator === true && actor.role !== SERVICE_ROLE && !(await messages.activeParticipant(tx, located.row.conversationId, actor.id))
        ? { kind: "service", closed: false }
        : await this.access(tx, actor, located.row.conversationId);
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
    return toWireMessage(row);
  }
}

/** Length in characters (code points, as PostgreSQL's char_length counts), not UTF-16 units: an emoji is one. */
function codePoints(text: string): number {
  return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
}
