import { ChannelSubscriber, busKeys, parseEnvelope, type EventEnvelope } from "@parley/bus";
import type { Conversation, ConversationEvent, Message } from "@parley/protocol";
import { waitFor } from "@parley/testing";
import { Redis } from "ioredis";
import { randomUUID } from "node:crypto";
import type { ApiHarness, RegisteredUser } from "./api-harness";

/** Opens a group owned by `owner` through the API; returns its id. */
export async function openGroup(api: ApiHarness, owner: RegisteredUser, members: readonly RegisteredUser[], title = "Group"): Promise<string> {
  const response = await api.request<Conversation>("POST", "/v1/conversations", {
    token: owner.token,
    body: { type: "group", title, participant_ids: members.map((m) => m.id) },
  });
  if (response.status !== 201) throw new Error(`group creation failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.id;
}

export async function openDirect(api: ApiHarness, a: RegisteredUser, b: RegisteredUser): Promise<string> {
  const response = await api.request<Conversation>("POST", "/v1/conversations", { token: a.token, body: { type: "direct", participant_ids: [b.id] } });
  if (response.status !== 201 && response.status !== 200) throw new Error(`direct creation failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.id;
}

/** Sends a text message and insists it was created. */
export async function send(api: ApiHarness, from: RegisteredUser | string, conversationId: string, content: string): Promise<Message> {
  const token = typeof from === "string" ? from : from.token;
  const response = await api.request<Message>("POST", `/v1/conversations/${conversationId}/messages`, {
    token,
    body: { client_msg_id: randomUUID(), content },
  });
  if (response.status !== 201) throw new Error(`send failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

export async function unreadOf(api: ApiHarness, user: RegisteredUser): Promise<{ total: number; conversations: { conversation_id: string; unread_count: number; muted: boolean }[] }> {
  const response = await api.request<{ total: number; conversations: { conversation_id: string; unread_count: number; muted: boolean }[] }>("GET", "/v1/unread", { token: user.token });
  if (response.status !== 200) throw new Error(`unread failed: ${response.status}`);
  return response.body;
}

/** Archives a conversation the way the worker does: its messages move to archived_messages and archived_at is set. */
export async function archiveLikeTheWorker(api: ApiHarness, conversationId: string): Promise<number> {
  const columns = "id, conversation_id, seq, sender_id, type, content, client_msg_id, reply_to, attachments, created_at, edited_at, deleted_at";
  const sql = api.node.database.sql;
  return sql.begin(async (tx) => {
    await tx`SELECT 1 FROM conversations WHERE id = ${conversationId} FOR UPDATE`;
    const moved = await tx.unsafe(
      `WITH moved AS (DELETE FROM messages WHERE conversation_id = $1 RETURNING ${columns})
       INSERT INTO archived_messages (${columns}) SELECT ${columns} FROM moved`,
      [conversationId],
    );
    await tx`UPDATE conversations SET archived_at = now() WHERE id = ${conversationId}`;
    return moved.count;
  });
}

export async function tableCounts(api: ApiHarness, conversationId: string): Promise<{ live: number; archived: number }> {
  const sql = api.node.database.sql;
  const [row] = await sql<{ live: number; archived: number }[]>`
    SELECT (SELECT count(*)::int FROM messages WHERE conversation_id = ${conversationId}) AS live,
           (SELECT count(*)::int FROM archived_messages WHERE conversation_id = ${conversationId}) AS archived`;
  return row ?? { live: 0, archived: 0 };
}

/**
 * Listens on users' live channels (busKeys(prefix).userChannel) as an edge would, recording every envelope.
 * It never kicks the relay itself, so a test can tell a kick from a periodic sweep.
 */
/** Starts listening to the channels of `users` once everything earlier (conversation creation, ...) has been published. */
export async function listenAfterRelay(api: ApiHarness, users: readonly RegisteredUser[]): Promise<ChannelListener> {
  await api.node.relay.flush();
  return ChannelListener.start(
    api,
    users.map((u) => u.id),
  );
}

export class ChannelListener {
  private readonly received = new Map<string, EventEnvelope[]>();

  private constructor(private readonly subscriber: ChannelSubscriber) {}

  static async start(api: ApiHarness, userIds: readonly string[]): Promise<ChannelListener> {
    const connection = new Redis(api.redis.url, { lazyConnect: true });
    await connection.connect();
    const listener = new ChannelListener(new ChannelSubscriber(connection));
    for (const userId of userIds) {
      listener.received.set(userId, []);
      await listener.subscriber.subscribe(busKeys(api.redis.prefix).userChannel(userId), (message) => {
        const envelope = parseEnvelope(message);
        listener.received.get(userId)?.push(envelope ?? { pos: "invalid", event: JSON.parse(message) as ConversationEvent });
      });
    }
    return listener;
  }

  envelopes(userId: string): EventEnvelope[] {
    return this.received.get(userId) ?? [];
  }

  /** Events of `type` received by `userId` so far. */
  of<T extends ConversationEvent["type"]>(userId: string, type: T): (Extract<ConversationEvent, { type: T }> & { pos: string })[] {
    return this.envelopes(userId).flatMap((e) => (e.event.type === type ? [{ ...(e.event as Extract<ConversationEvent, { type: T }>), pos: e.pos }] : []));
  }

  /** Waits until `userId` has received at least `count` events of `type`; returns them. */
  async waitFor<T extends ConversationEvent["type"]>(userId: string, type: T, count: number, timeout = 5000) {
    return waitFor(() => this.of(userId, type).length >= count && this.of(userId, type), { timeout, message: `${count} ${type} events for ${userId}` });
  }

  /** Waits until `userId` has received an event matching `predicate`. */
  async waitForMatch(userId: string, predicate: (event: ConversationEvent) => boolean, timeout = 5000): Promise<void> {
    await waitFor(() => this.envelopes(userId).some((e) => predicate(e.event)), { timeout, message: `a matching event for ${userId}` });
  }

  async close(): Promise<void> {
    await this.subscriber.close();
  }
}
