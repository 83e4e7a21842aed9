import type { AckDataOf, AckedCommandType, ConnectedFrame, Message } from "@parley/protocol";
import { DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
import { systemClock, type Clock } from "./clock";
import { connectionSettings, type ClientEvents, type ParleyClientOptions } from "./client-options";
import { Connection } from "./connection";
import type { CommandFields, CommandOptions, ConnectionState, ServerEventFrame } from "./connection-types";
import { Conversation } from "./conversation";
import { CursorStore } from "./cursor-store";
import { DeliveryReceipts } from "./delivery-receipts";
import { Emitter } from "./emitter";
import { isRetryable, ParleyRequestError } from "./errors";
import { Outbox, type OutboxEntry, type OutgoingMessage } from "./outbox";
import { randomId } from "./random-id";
import { RestClient, type RestMethods } from "./rest-client";
import { Sequencer } from "./sequencer";
import { memoryStorage } from "./storage";
import { TokenSource } from "./token-provider";
import { globalWebSocket } from "./websocket";

export type { ClientEvents, ParleyClientOptions } from "./client-options";

/**
 * The Parley client: one logical connection (reconnects with backoff and jitter, resumes from the last stream
 * position), conversations kept in seq order without gaps or doubles, an outbox for sends, and typed REST.
 */
export class ParleyClient extends Emitter<ClientEvents> {
  /** Typed REST helpers, one per operationId (`client.rest.listConversations({query: {limit: 20}})`). */
  readonly rest: RestMethods;
  /** The REST client behind `rest` (its `request()` reaches endpoints newer than this SDK). */
  readonly restClient: RestClient;
  private readonly connection: Connection;
  private readonly sequencer: Sequencer;
  private readonly outboxStore: Outbox;
  private readonly receipts: DeliveryReceipts | undefined;
  private readonly cursor: CursorStore;
  private readonly conversations = new Map<string, Conversation>();
  private readonly subscriptions = new Set<string>();
  private watched: string[] = [];
  private readonly clock: Clock;
  private user: string | undefined;
  private nodeId: string | undefined;
  private closed = false;

  constructor(readonly options: ParleyClientOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    const random = options.random ?? Math.random;
    const backoff: BackoffOptions = { ...DEFAULT_BACKOFF, ...options.reconnect };
    const storage = options.storage ?? memoryStorage();
    const prefix = options.storageKey ?? "parley";
    const tokens = new TokenSource(options.token, this.clock);
    const WebSocketClass = options.WebSocket ?? globalWebSocket();
    if (WebSocketClass === undefined) throw new TypeError("No global WebSocket: pass one (e.g. `import { WebSocket } from \"ws\"`) as options.WebSocket.");

    const restClient = new RestClient({
      baseUrl: options.apiUrl,
      token: () => tokens.current(),
      onUnauthorized: () => tokens.fetch("rejected"),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
    this.restClient = restClient;
    this.rest = restClient.api;

    this.connection = new Connection(connectionSettings(options, { WebSocket: WebSocketClass, tokens, clock: this.clock, random, backoff }));

    this.cursor = new CursorStore(storage, `${prefix}:cursor`);
    this.sequencer = new Sequencer({
      fetchAfter: async (conversationId, afterSeq) => {
        const page = await this.rest.listMessages({ params: { id: conversationId }, query: { after_seq: afterSeq, limit: 200 } });
        return { items: page.items, more: page.next_cursor !== null };
      },
      release: (message) => {
        this.released(message);
      },
      advanced: (conversationId, seq) => {
        this.cursor.setSeq(conversationId, seq);
      },
      failed: (error) => {
        this.emit("error", error instanceof Error ? error : new Error(String(error)));
      },
      clock: this.clock,
      random,
      backoff,
    });
    for (const [conversationId, seq] of this.cursor.seqs()) this.sequencer.seed(conversationId, seq);

    this.outboxStore = new Outbox({
      storage,
      key: `${prefix}:outbox`,
      send: (entry) =>
        this.command(
          "send_message",
          {
            conversation_id: entry.conversation_id,
            client_msg_id: entry.client_msg_id,
            content: entry.content,
            ...(entry.message_type === undefined ? {} : { message_type: entry.message_type }),
            ...(entry.reply_to === undefined ? {} : { reply_to: entry.reply_to }),
            ...(entry.attachments === undefined ? {} : { attachments: [...entry.attachments] }),
          },
          // A send may wait long behind a rate limit; an unanswered one is retried with the same client_msg_id.
          { timeoutMs: 60_000 },
        ),
      newId: options.newId ?? randomId,
      clock: this.clock,
      random,
      backoff,
      concurrency: options.outboxConcurrency ?? 8,
    });
    this.outboxStore.on("change", (entry) => {
      this.emit("outbox", entry);
    });
    this.outboxStore.on("sent", (entry) => {
      // The ack carries the stored message: it joins the conversation at once (the event later is a duplicate).
      this.sequencer.offer(entry.message);
    });

    const receiptOptions = options.deliveryReceipts;
    this.receipts =
      receiptOptions === false
        ? undefined
        : new DeliveryReceipts({
            clock: this.clock,
            intervalMs: receiptOptions?.intervalMs ?? 1_000,
            maxPerBatch: receiptOptions?.maxPerBatch ?? 3,
            send: async (conversationId, upToSeq) => {
              try {
                await this.command("mark_delivered", { conversation_id: conversationId, up_to_seq: upToSeq });
              } catch (error) {
                // Only what may succeed later is carried to the next batch.
                if (error instanceof ParleyRequestError && isRetryable(error.code)) throw error;
              }
            },
          });

    this.connection.on("state", (state) => {
      this.emit("state", state);
    });
    this.connection.on("error", (error) => {
      this.emit("error", error);
    });
    this.connection.on("terminal", (error) => {
      this.stopParts();
      this.emit("terminal", error);
    });
    this.connection.on("connected", (frame) => {
      this.connected(frame);
    });
    this.connection.on("event", (frame) => {
      this.event(frame);
    });
  }

  /** idle, connecting, open, reconnecting, offline or closed. */
  get state(): ConnectionState {
    return this.connection.state;
  }

  /** The signed-in user's id, once connected. */
  get userId(): string | undefined {
    return this.user;
  }

  /** The edge this client is connected to (`connected.node`, as `/v1/stats` lists it). */
  get node(): string | undefined {
    return this.nodeId;
  }

  /** Opens the connection (it then stays up, reconnecting as needed, until close()). */
  connect(): void {
    this.connection.start();
    this.outboxStore.flush();
  }

  /** Resolves at the next `connected` (at once when already open). */
  async ready(): Promise<void> {
    if (this.connection.state === "open") return;
    await new Promise<void>((resolve, reject) => {
      const offConnected = this.once("connected", () => {
        offTerminal();
        resolve();
      });
      const offTerminal = this.once("terminal", (error) => {
        offConnected();
        reject(error);
      });
    });
  }

  /** Stops for good: closes the socket, rejects pending commands; the outbox stays in storage. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connection.close();
    this.stopParts();
  }

  /** Any command, typed: resolves with its ack data or rejects with ParleyRequestError carrying the protocol code. */
  command<K extends AckedCommandType>(type: K, fields: CommandFields<K>, options?: CommandOptions): Promise<AckDataOf<K>> {
    return this.connection.command(type, fields, options);
  }

  /** Queues a message in the outbox (persisted at once) and returns its entry; it is sent as soon as possible. */
  send(conversationId: string, message: OutgoingMessage | string): OutboxEntry {
    return this.outboxStore.enqueue(conversationId, typeof message === "string" ? { content: message } : message);
  }

  /** Unsent (pending or failed) messages, oldest first; optionally of one conversation. */
  outbox(conversationId?: string): readonly OutboxEntry[] {
    return this.outboxStore.list(conversationId);
  }

  /** Puts a failed message back in line, with the same client_msg_id. */
  retrySend(clientMsgId: string): void {
    this.outboxStore.retry(clientMsgId);
  }

  /** Removes a failed message from the outbox. */
  discardSend(clientMsgId: string): void {
    this.outboxStore.discard(clientMsgId);
  }

  markRead(conversationId: string, upToSeq: number): Promise<AckDataOf<"mark_read">> {
    return this.command("mark_read", { conversation_id: conversationId, up_to_seq: upToSeq });
  }

  /** typing_start / typing_stop (ephemeral: not retried after a reconnect). */
  setTyping(conversationId: string, isTyping: boolean): Promise<AckDataOf<"typing_start">> {
    return this.command(isTyping ? "typing_start" : "typing_stop", { conversation_id: conversationId }, { onDisconnect: "reject" });
  }

  /** Replaces the watched users; resolves with their current presence, `presence` events follow each change. */
  async watchPresence(userIds: readonly string[]): Promise<AckDataOf<"watch_presence">> {
    this.watched = [...userIds];
    return this.command("watch_presence", { user_ids: [...userIds] });
  }

  /** Typing signals of a conversation (re-sent after every reconnect until unsubscribe). */
  async subscribe(conversationId: string): Promise<void> {
    this.subscriptions.add(conversationId);
    if (this.connection.state === "open") await this.command("subscribe", { conversation_id: conversationId });
  }

  async unsubscribe(conversationId: string): Promise<void> {
    this.subscriptions.delete(conversationId);
    if (this.connection.state === "open") await this.command("unsubscribe", { conversation_id: conversationId });
  }

  /** The view of one conversation (one object per id): ordered messages, pending sends, typing, read and delivered state. */
  conversation(conversationId: string): Conversation {
    let view = this.conversations.get(conversationId);
    if (view === undefined) {
      view = new Conversation(conversationId, {
        client: this,
        clock: this.clock,
        highWater: () => this.sequencer.highWater(conversationId),
        seed: (seq) => {
          this.sequencer.seed(conversationId, seq);
        },
        catchUp: (seq) => {
          this.sequencer.catchUp(conversationId, seq);
        },
      });
      this.conversations.set(conversationId, view);
    }
    return view;
  }

  /** The highest seq of a conversation this client has without a gap (undefined when it has seen none). */
  lastSeq(conversationId: string): number | undefined {
    return this.sequencer.highWater(conversationId);
  }

  private connected(frame: ConnectedFrame): void {
    const stored = this.cursor.position();
    if (stored !== undefined && stored.userId !== frame.user_id) {
      // Another account's position and seqs mean nothing for this one.
      this.cursor.reset();
    }
    this.user = frame.user_id;
    this.nodeId = frame.node;
    const since = stored?.userId === frame.user_id ? stored.pos : undefined;
    if (since === undefined) {
      this.cursor.setPosition(frame.user_id, frame.pos);
    } else {
      // Sent before anything else on this socket: the edge replays the missed events, then goes live.
      this.connection
        .command("resume", { since }, { urgent: true, onDisconnect: "reject" })
        .catch((error: unknown) => {
          if (error instanceof ParleyRequestError && error.code === "resume_too_old") this.resync(frame, since);
          else if (error instanceof Error) this.emit("error", error);
        });
    }
    for (const conversationId of this.subscriptions) {
      this.command("subscribe", { conversation_id: conversationId }, { onDisconnect: "reject" }).catch((error: unknown) => {
        if (error instanceof Error) this.emit("error", error);
      });
    }
    if (this.watched.length > 0) {
      this.command("watch_presence", { user_ids: this.watched }, { onDisconnect: "reject" }).catch((error: unknown) => {
        if (error instanceof Error) this.emit("error", error);
      });
    }
    this.emit("connected", frame);
    this.outboxStore.flush();
  }

  /** `resume_too_old`: continue from this socket's position and refetch each known conversation's missed messages. */
  private resync(frame: ConnectedFrame, since: string): void {
    if (this.cursor.position()?.pos === since) this.cursor.setPosition(frame.user_id, frame.pos);
    this.emit("resync", { reason: "resume_too_old" });
    void this.catchUpAll().catch((error: unknown) => {
      this.emit("error", error instanceof Error ? error : new Error(String(error)));
    });
  }

  private async catchUpAll(): Promise<void> {
    const known = this.sequencer.known();
    for (const archived of [false, true]) {
      let cursor: string | undefined;
      // Bounded: the 500 most recently active conversations of each list; older ones catch up when opened.
      for (let page = 0; page < 5; page += 1) {
        const result = await this.rest.listConversations({ query: { limit: 100, archived, ...(cursor === undefined ? {} : { cursor }) } });
        for (const conversation of result.items) {
          if (known.has(conversation.id)) this.sequencer.catchUp(conversation.id, conversation.last_seq);
        }
        if (result.next_cursor === null) break;
        cursor = result.next_cursor;
      }
    }
  }

  private event(frame: ServerEventFrame): void {
    if (frame.type === "new_message") {
      this.sequencer.offer(frame.message);
    } else {
      this.emit(frame.type, frame);
      this.conversationOf(frame)?.apply(frame);
    }
    if ("pos" in frame && frame.pos !== undefined && this.user !== undefined) this.cursor.setPosition(this.user, frame.pos);
  }

  private conversationOf(frame: ServerEventFrame): Conversation | undefined {
    const id = "conversation_id" in frame ? frame.conversation_id : frame.type === "conversation_updated" ? frame.conversation.id : undefined;
    return id === undefined ? undefined : this.conversations.get(id);
  }

  private released(message: Message): void {
    this.emit("message", message);
    this.emit("new_message", { type: "new_message", conversation_id: message.conversation_id, message });
    this.conversations.get(message.conversation_id)?.apply({ type: "new_message", conversation_id: message.conversation_id, message });
    if (message.sender_id !== this.user && this.user !== undefined) this.receipts?.received(message.conversation_id, message.seq);
  }

  private stopParts(): void {
    this.outboxStore.stop();
    this.receipts?.stop();
    this.sequencer.close();
  }
}
