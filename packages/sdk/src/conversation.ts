import type { AckDataOf, Conversation as ConversationRecord, Message } from "@parley/protocol";
import type { Clock, TimerHandle } from "./clock";
import type { CommandOptions, ServerEventFrame } from "./connection";
import { Emitter } from "./emitter";
import type { OutboxEntry, OutgoingMessage } from "./outbox";
import type { RestMethods } from "./rest-client";

/** What a conversation view needs from its client. */
export interface ConversationClient {
  readonly rest: RestMethods;
  outbox(conversationId: string): readonly OutboxEntry[];
  send(conversationId: string, message: OutgoingMessage | string): OutboxEntry;
  markRead(conversationId: string, upToSeq: number): Promise<AckDataOf<"mark_read">>;
  command(type: "typing_start" | "typing_stop", fields: { conversation_id: string }, options?: CommandOptions): Promise<unknown>;
  subscribe(conversationId: string): Promise<void>;
  unsubscribe(conversationId: string): Promise<void>;
  on(type: "outbox", listener: (entry: OutboxEntry) => void): () => void;
  on(type: "resync", listener: () => void): () => void;
}

/** Typing expires by itself this long after the last signal (the server's 5 s, plus latency). */
const TYPING_TTL_MS = 6_000;

export interface ConversationHooks {
  readonly client: ConversationClient;
  readonly clock: Clock;
  readonly highWater: () => number | undefined;
  readonly seed: (seq: number) => void;
  readonly catchUp: (seq: number) => void;
}

interface ConversationEvents {
  /** Anything shown changed: messages, pending sends, typing, read or delivered state, the record. */
  change: Conversation;
}

/**
 * One conversation as a UI shows it: messages in seq order without gaps or doubles (the newest page, then older
 * pages on demand, then everything live), this client's pending sends, who is typing, and each participant's read
 * and delivered seq.
 */
export class Conversation extends Emitter<ConversationEvents> {
  /** The conversation itself (title, participants...), once `load()` ran; kept fresh by `conversation_updated`. */
  record: ConversationRecord | undefined;
  private readonly bySeq = new Map<number, Message>();
  private sorted: Message[] = [];
  private oldestLoaded: number | undefined;
  private readonly typingUsers = new Map<string, TimerHandle>();
  private readonly readSeqs = new Map<string, number>();
  private readonly deliveredSeqs = new Map<string, number>();
  private loaded: Promise<void> | undefined;

  constructor(
    readonly id: string,
    private readonly hooks: ConversationHooks,
  ) {
    super();
    hooks.client.on("outbox", (entry) => {
      if (entry.conversation_id === this.id) this.changed();
    });
    hooks.client.on("resync", () => {
      if (this.loaded !== undefined) void this.refreshRecord();
    });
  }

  /** Messages in ascending seq, contiguous from the oldest loaded one. */
  get messages(): readonly Message[] {
    return this.sorted;
  }

  /** This client's sends of this conversation that are not acked yet (pending or failed). */
  get pending(): readonly OutboxEntry[] {
    return this.hooks.client.outbox(this.id);
  }

  /** Users typing now (never the signed-in user). */
  get typing(): readonly string[] {
    return [...this.typingUsers.keys()];
  }

  /** Highest seq each participant has read. */
  get readUpTo(): ReadonlyMap<string, number> {
    return this.readSeqs;
  }

  /** Highest seq each participant's devices acknowledged as received. */
  get deliveredUpTo(): ReadonlyMap<string, number> {
    return this.deliveredSeqs;
  }

  /** True while older messages may exist before the first loaded one. */
  get hasOlder(): boolean {
    return this.oldestLoaded === undefined || this.oldestLoaded > 1;
  }

  /** Loads the conversation (participants' read and delivered state) and its newest page of messages. Once; a failed load may be retried. */
  load(): Promise<void> {
    this.loaded ??= (async () => {
      await this.refreshRecord();
      const page = await this.hooks.client.rest.listMessages({ params: { id: this.id }, query: { limit: 50 } });
      this.merge(page.items);
      const newest = page.items.at(-1)?.seq ?? 0;
      const known = this.hooks.highWater();
      // A conversation new to this client starts at its newest page; one it knows catches up through the sequencer
      // (so `message` listeners see every seq once), and the page covers what this view had not loaded.
      if (known === undefined) this.hooks.seed(newest);
      this.oldestLoaded = page.items[0]?.seq ?? 1;
      if (page.next_cursor === null) this.oldestLoaded = 1;
      this.hooks.catchUp(Math.max(newest, this.record?.last_seq ?? 0));
      this.changed();
    })();
    const loading = this.loaded;
    loading.catch(() => {
      // Not loaded after all: the next load() asks again.
      if (this.loaded === loading) this.loaded = undefined;
    });
    return loading;
  }

  /** Loads the page before the oldest loaded message; resolves with how many arrived (0: the beginning). */
  async loadOlder(limit = 50): Promise<number> {
    await this.load();
    if (!this.hasOlder || this.oldestLoaded === undefined) return 0;
    const page = await this.hooks.client.rest.listMessages({ params: { id: this.id }, query: { before_seq: this.oldestLoaded, limit } });
    this.merge(page.items);
    const first = page.items[0]?.seq;
    this.oldestLoaded = first === undefined || page.next_cursor === null ? 1 : first;
    this.changed();
    return page.items.length;
  }

  /** Queues a message in the client's outbox (it shows in `pending` until acked, then in `messages`). */
  send(message: OutgoingMessage | string): OutboxEntry {
    return this.hooks.client.send(this.id, message);
  }

  /** Marks everything up to `upToSeq` (default: the newest message) read. */
  async markRead(upToSeq?: number): Promise<void> {
    const seq = upToSeq ?? this.sorted.at(-1)?.seq ?? this.hooks.highWater();
    if (seq === undefined) return;
    await this.hooks.client.markRead(this.id, seq);
  }

  /** Sends typing_start or typing_stop. */
  async setTyping(isTyping: boolean): Promise<void> {
    await this.hooks.client.command(isTyping ? "typing_start" : "typing_stop", { conversation_id: this.id }, { onDisconnect: "reject" });
  }

  /** Starts receiving typing signals (kept across reconnects). */
  async open(): Promise<void> {
    await this.hooks.client.subscribe(this.id);
  }

  /** Stops receiving typing signals. */
  async closeView(): Promise<void> {
    for (const timer of this.typingUsers.values()) this.hooks.clock.clearTimeout(timer);
    this.typingUsers.clear();
    await this.hooks.client.unsubscribe(this.id);
  }

  /** An event of this conversation (called by the client; messages arrive here in order, once each). */
  apply(frame: ServerEventFrame): void {
    switch (frame.type) {
      case "new_message":
        this.merge([frame.message]);
        this.stopTyping(frame.message.sender_id);
        break;
      case "message_updated":
        if (this.bySeq.has(frame.message.seq)) this.merge([frame.message]);
        break;
      case "message_deleted": {
        const existing = this.bySeq.get(frame.seq);
        if (existing !== undefined) this.merge([{ ...existing, deleted: true, content: null, attachments: [] }]);
        break;
      }
      case "messages_read":
        raise(this.readSeqs, frame.user_id, frame.up_to_seq);
        break;
      case "messages_delivered":
        raise(this.deliveredSeqs, frame.user_id, frame.up_to_seq);
        break;
      case "typing":
        if (frame.is_typing) this.startTyping(frame.user_id);
        else this.stopTyping(frame.user_id);
        break;
      case "conversation_updated":
        this.record = { ...frame.conversation, participants: frame.conversation.participants ?? this.record?.participants ?? [] };
        this.readParticipants();
        break;
      case "unread_count":
        if (this.record !== undefined) this.record = { ...this.record, unread_count: frame.unread_count };
        break;
      case "presence":
        return;
    }
    this.changed();
  }

  private async refreshRecord(): Promise<void> {
    this.record = await this.hooks.client.rest.getConversation({ params: { id: this.id } });
    this.readParticipants();
    this.changed();
  }

  private readParticipants(): void {
    for (const participant of this.record?.participants ?? []) {
      if (participant.last_read_seq !== undefined) raise(this.readSeqs, participant.user_id, participant.last_read_seq);
      if (participant.delivered_seq !== undefined) raise(this.deliveredSeqs, participant.user_id, participant.delivered_seq);
    }
  }

  private merge(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    for (const message of messages) this.bySeq.set(message.seq, message);
    this.sorted = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  private startTyping(userId: string): void {
    const previous = this.typingUsers.get(userId);
    if (previous !== undefined) this.hooks.clock.clearTimeout(previous);
    this.typingUsers.set(
      userId,
      this.hooks.clock.setTimeout(() => {
        this.typingUsers.delete(userId);
        this.changed();
      }, TYPING_TTL_MS),
    );
  }

  private stopTyping(userId: string | null): void {
    if (userId === null) return;
    const timer = this.typingUsers.get(userId);
    if (timer === undefined) return;
    this.hooks.clock.clearTimeout(timer);
    this.typingUsers.delete(userId);
  }

  private changed(): void {
    this.emit("change", this);
  }
}

/** Read and delivered state never moves backwards. */
function raise(map: Map<string, number>, userId: string, seq: number): void {
  if ((map.get(userId) ?? -1) < seq) map.set(userId, seq);
}
