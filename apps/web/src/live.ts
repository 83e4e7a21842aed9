import {
  browserStorage,
  ParleyClient,
  type Conversation as SdkConversation,
  type ConnectionState,
  type Message,
  type OutboxEntry,
  type RestResponse,
} from "@parley/sdk";
import type { PresenceStatus } from "./components/presence-dot";
import { describeError } from "./errors";
import type { Session } from "./session";
import { Store } from "./store";

export type ShownMessage = Message;
export type ConversationRecord = RestResponse<"getConversation">;

export interface ConversationSnapshot {
  /** The conversation with its participants, once loaded. */
  readonly record: ConversationRecord | undefined;
  /** Ascending by seq, gap-free from the oldest page loaded; each message once. */
  readonly messages: readonly ShownMessage[];
  /** My messages not yet acknowledged (pending or failed), in the order I wrote them. */
  readonly pending: readonly OutboxEntry[];
  readonly loaded: boolean;
  readonly hasOlder: boolean;
  readonly loadingOlder: boolean;
  /** Per participant: the highest seq they received and read. */
  readonly readUpTo: ReadonlyMap<string, number>;
  readonly deliveredUpTo: ReadonlyMap<string, number>;
  /** Who else is typing now (user ids). */
  readonly typing: readonly string[];
  readonly error: string | undefined;
}

export interface ConversationModel {
  readonly snapshot: Store<ConversationSnapshot>;
  loadOlder(): Promise<void>;
  send(content: string, replyTo: string | undefined): void;
  retry(clientMsgId: string): void;
  edit(messageId: string, content: string): Promise<void>;
  remove(messageId: string): Promise<void>;
  markRead(seq: number): void;
  setTyping(typing: boolean): void;
  close(): void;
}

/**
 * The signed-in user's realtime side, all through @parley/sdk's client: connection state, the edge in use,
 * presence, the unread total, and one model per open conversation.
 */
export class Live {
  readonly state = new Store<ConnectionState>("connecting");
  readonly node = new Store<string | undefined>(undefined);
  readonly presence = new Store<ReadonlyMap<string, PresenceStatus>>(new Map());
  readonly unreadTotal = new Store<number>(0);
  private readonly client: ParleyClient;
  private readonly conversationListeners = new Set<() => void>();
  private readonly signedOutListeners = new Set<() => void>();
  private readonly watched = new Set<string>();
  private closed = false;

  constructor(session: Session, userId: string, edgeUrls: readonly string[]) {
    this.client = new ParleyClient({
      apiUrl: session.apiUrl,
      wsUrl: edgeUrls,
      token: () => {
        const token = session.currentToken();
        if (token === undefined) throw new Error("signed out");
        return token;
      },
      storage: browserStorage(),
      // Each account keeps its own stream position and outbox in this browser.
      storageKey: `parley:${userId}`,
      // Someone is looking at the screen: retry at least every 8 s (the SDK's jitter still spreads a crowd).
      reconnect: { maxDelayMs: 8_000 },
    });
    const changed = () => {
      for (const listener of this.conversationListeners) listener();
    };
    this.client.on("state", (state) => this.state.set(state));
    this.client.on("connected", (frame) => this.node.set(frame.node));
    this.client.on("terminal", (error) => {
      if (error.reason === "unauthorized") for (const listener of this.signedOutListeners) listener();
    });
    this.client.on("presence", (frame) => this.presence.update((current) => new Map(current).set(frame.user_id, frame.status)));
    this.client.on("unread_count", (frame) => {
      this.unreadTotal.set(frame.total);
      changed();
    });
    for (const type of ["new_message", "message_updated", "message_deleted", "conversation_updated", "messages_read"] as const) {
      this.client.on(type, changed);
    }
    this.client.connect();
    void this.client.rest.getUnread().then(
      (summary) => this.unreadTotal.set(summary.total),
      () => undefined, // the next unread_count event sets it
    );
  }

  onConversationsChanged(listener: () => void): () => void {
    this.conversationListeners.add(listener);
    return () => this.conversationListeners.delete(listener);
  }

  onSignedOut(listener: () => void): () => void {
    this.signedOutListeners.add(listener);
    return () => this.signedOutListeners.delete(listener);
  }

  /** Adds users to the watched set (the SDK re-sends it after every reconnect); presence events follow. */
  watchPresence(userIds: readonly string[]): void {
    const before = this.watched.size;
    for (const id of userIds) if (this.watched.size < 500) this.watched.add(id);
    if (this.watched.size === before) return;
    this.client.watchPresence([...this.watched]).then(
      (answer) =>
        this.presence.update((current) => {
          const next = new Map(current);
          for (const item of answer.items) next.set(item.user_id, item.status);
          return next;
        }),
      () => undefined, // sent again with the set after the next reconnect
    );
  }

  conversation(conversationId: string): ConversationModel {
    return new LiveConversation(this.client, this.client.conversation(conversationId));
  }

  /** Closes the socket for good; the outbox stays in storage for the next sign-in. Safe to call twice. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.client.close();
    }
    return Promise.resolve();
  }
}

/** One conversation screen's state, read from the SDK's conversation view on every change. */
class LiveConversation implements ConversationModel {
  readonly snapshot: Store<ConversationSnapshot>;
  private readonly detach: (() => void)[] = [];
  private typingSent = false;
  private readSent = 0;
  private loadingOlder = false;
  private error: string | undefined;
  private loaded = false;
  private closed = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly client: ParleyClient,
    private readonly view: SdkConversation,
  ) {
    this.snapshot = new Store(this.read());
    this.detach.push(view.on("change", () => this.refresh()));
    this.load(0);
    // Typing signals of this conversation while it is on screen.
    view.open().catch(() => undefined);
  }

  /** Loads the conversation and its newest page; after a failure (the API down) tries again with a growing delay. */
  private load(failures: number): void {
    this.view.load().then(
      () => {
        this.loaded = true;
        this.error = undefined;
        this.refresh();
      },
      (error: unknown) => {
        if (this.closed) return;
        this.loaded = true;
        this.error = `${describeError(error)} Trying again…`;
        this.refresh();
        this.retryTimer = setTimeout(() => this.load(failures + 1), Math.min(30_000, 1_000 * 2 ** failures));
      },
    );
  }

  async loadOlder(): Promise<void> {
    if (this.loadingOlder) return;
    this.loadingOlder = true;
    this.refresh();
    try {
      await this.view.loadOlder();
    } catch (error) {
      this.error = describeError(error);
    } finally {
      this.loadingOlder = false;
      this.refresh();
    }
  }

  send(content: string, replyTo: string | undefined): void {
    this.view.send({ content, ...(replyTo === undefined ? {} : { reply_to: replyTo }) });
  }

  retry(clientMsgId: string): void {
    this.client.retrySend(clientMsgId);
  }

  async edit(messageId: string, content: string): Promise<void> {
    await this.client.command("edit_message", { message_id: messageId, content });
  }

  async remove(messageId: string): Promise<void> {
    try {
      await this.client.command("delete_message", { message_id: messageId });
    } catch (error) {
      this.error = describeError(error);
      this.refresh();
    }
  }

  markRead(seq: number): void {
    if (seq <= this.readSent) return;
    this.readSent = seq;
    this.view.markRead(seq).catch(() => {
      this.readSent = 0; // tried again with the next message or visit
    });
  }

  setTyping(typing: boolean): void {
    if (typing === this.typingSent) return;
    this.typingSent = typing;
    this.view.setTyping(typing).catch(() => undefined); // typing is ephemeral: a lost signal does not matter
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.setTyping(false);
    for (const detach of this.detach.splice(0)) detach();
    this.view.closeView().catch(() => undefined);
  }

  private read(): ConversationSnapshot {
    return {
      record: this.view.record,
      messages: this.view.messages,
      pending: this.view.pending,
      loaded: this.loaded,
      hasOlder: this.view.hasOlder,
      loadingOlder: this.loadingOlder,
      readUpTo: new Map(this.view.readUpTo),
      deliveredUpTo: new Map(this.view.deliveredUpTo),
      typing: this.view.typing,
      error: this.error,
    };
  }

  private refresh(): void {
    this.snapshot.set(this.read());
  }
}
