import type { AckDataOf, AckedCommandType, ConnectedFrame, Message } from "@parley/protocol";
import { DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
import { systemClock, type Clock } from "./clock";
import { Connection, type CommandFields, type CommandOptions, type ConnectionState, type ServerEventFrame, type ServerEventType } from "./connection";
import { Conversation } from "./conversation";
import { DeliveryReceipts } from "./delivery-receipts";
import { Emitter } from "./emitter";
import { isRetryable, ParleyRequestError, type ParleyTerminalError } from "./errors";
import { Outbox, type OutboxEntry, type OutgoingMessage } from "./outbox";
import { RestClient, type FetchLike, type RestMethods } from "./rest-client";
import { Sequencer } from "./sequencer";
import { memoryStorage, type KeyValueStorage } from "./storage";
import { TokenSource, type TokenProvider } from "./token-provider";
import { globalWebSocket, type WebSocketConstructor } from "./websocket";
import { CursorStore } from "./cursor-store";

export interface ParleyClientOptions {
  /** The API's base URL (REST), e.g. `https://chat.example.com`. */
  readonly apiUrl: string;
  /**
   * The edges' WebSocket URL(s), e.g. `wss://chat.example.com/v1/ws`. With several, each reconnect tries the next
   * one; a function is asked before every connect. Default: `apiUrl` with the ws(s) scheme and `/v1/ws` (one load
   * balancer in front of everything).
   */
  readonly wsUrl?: string | readonly string[] | (() => string);
  /** Returns a valid access token; called at start, before the token's `exp`, and after the server refused one. */
  readonly token: TokenProvider;
  /** The WebSocket class: the global one in browsers; pass `ws`'s in Node 20. */
  readonly WebSocket?: WebSocketConstructor;
  /** `fetch` for REST (the global one unless given). */
  readonly fetch?: FetchLike;
  /** Where the stream position, each conversation's last seq and the outbox are kept: memory unless given. */
  readonly storage?: KeyValueStorage;
  /** Prefix of every storage key; give each signed-in account its own (default `parley`). */
  readonly storageKey?: string;
  /** Reconnect backoff: delay uniform in [0, min(maxDelayMs, initialDelayMs × factor^attempt)). */
  readonly reconnect?: Partial<BackoffOptions> & {
    /** Failed attempts in a row after which the state is `offline` (default 3). */
    readonly offlineAfterAttempts?: number;
  };
  /** Dead-socket detection: `ping` after `pingAfterMs` without a frame (25 s), dead after `pongTimeoutMs` more (10 s). */
  readonly heartbeat?: { readonly pingAfterMs?: number; readonly pongTimeoutMs?: number };
  /** From opening a socket to `connected` (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Default deadline of a command's answer once written (default 30 s). */
  readonly commandTimeoutMs?: number;
  /** Commands written and unanswered at most (default 32; the edge refuses more than 64 waiting). */
  readonly maxInFlight?: number;
  /** Outbox sends on their way at once (default 8). */
  readonly outboxConcurrency?: number;
  /** A fresh token is sent this long before `exp` (default 60 s; at most half the remaining lifetime). */
  readonly tokenRefreshMarginMs?: number;
  /** Delivered receipts (`mark_delivered`): on by default, one batch per `intervalMs` (1 s) of at most `maxPerBatch` (3). */
  readonly deliveryReceipts?: false | { readonly intervalMs?: number; readonly maxPerBatch?: number };
  /** Time and timers (tests pass a fake clock). */
  readonly clock?: Clock;
  /** Random numbers in [0, 1) for jitter. */
  readonly random?: () => number;
  /** Generates client_msg_id values (random UUIDs unless given). */
  readonly newId?: () => string;
}

/** What a ParleyClient emits: its own state and every server event, typed. */
export type ClientEvents = { readonly [K in ServerEventType]: Extract<ServerEventFrame, { type: K }> } & {
  /** Connection state changes (for a "reconnecting" banner). */
  readonly state: ConnectionState;
  /** Every (re)connect. */
  readonly connected: ConnectedFrame;
  /** A message, once per (conversation, seq), in seq order without gaps per conversation (live or filled from history). */
  readonly message: Message;
  /** The stream could not be resumed (`resume_too_old`): missed messages are being refetched; refresh lists and counters. */
  readonly resync: { readonly reason: "resume_too_old" };
  /** An outbox entry was added or changed state. */
  readonly outbox: OutboxEntry;
  /** Something went wrong that the client recovers from (a frame that did not parse, a failed history fetch...). */
  readonly error: Error;
  /** The client stopped for good (4003, 4008, 4010, refused tokens, or close()). */
  readonly terminal: ParleyTerminalError;
};

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

    this.connection = new Connection({
      urls: wsUrls(options),
      WebSocket: WebSocketClass,
      tokens,
      clock: this.clock,
      random,
      backoff,
      offlineAfterAttempts: options.reconnect?.offlineAfterAttempts ?? 3,
      pingAfterMs: options.heartbeat?.pingAfterMs ?? 25_000,
      pongTimeoutMs: options.heartbeat?.pongTimeoutMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      maxInFlight: options.maxInFlight ?? 32,
      commandTimeoutMs: options.commandTimeoutMs ?? 30_000,
      tokenRefreshMarginMs: options.tokenRefreshMarginMs ?? 60_000,
    });

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

function wsUrls(options: ParleyClientOptions): readonly string[] | (() => string) {
  if (typeof options.wsUrl === "function") return options.wsUrl;
  if (options.wsUrl !== undefined) return typeof options.wsUrl === "string" ? [options.wsUrl] : [...options.wsUrl];
  const url = new URL("/v1/ws", options.apiUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return [url.toString()];
}

function randomId(): string {
  const cryptoApi = globalThis.crypto as Crypto | undefined;
  if (typeof cryptoApi?.randomUUID === "function") return cryptoApi.randomUUID();
  // Insecure browser contexts (plain http on a LAN) lack randomUUID; 128 random bits do the same job.
  const bytes = new Uint8Array(16);
  if (cryptoApi !== undefined) cryptoApi.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
