import { attachment, errorCode, type Attachment, type ErrorCode, type Message } from "@parley/protocol";
import { z } from "zod";
import { backoffDelay, type BackoffOptions } from "./backoff";
import type { Clock, TimerHandle } from "./clock";
import { Emitter } from "./emitter";
import { isRetryable, ParleyRequestError, ParleyTerminalError } from "./errors";
import type { KeyValueStorage } from "./storage";

/** pending: waiting or on its way; sent: acked (the stored message is attached); failed: refused, see `error`. */
export type OutboxState = "pending" | "sent" | "failed";

export interface OutgoingMessage {
  readonly content: string;
  readonly message_type?: "text" | "image" | "file";
  readonly reply_to?: string | null;
  readonly attachments?: readonly Attachment[];
}

export interface OutboxEntry extends OutgoingMessage {
  /** Generated once when the message is queued; every retry reuses it, so the server stores it once. */
  readonly client_msg_id: string;
  readonly conversation_id: string;
  readonly created_at: string;
  readonly state: OutboxState;
  readonly attempts: number;
  readonly error?: { readonly code: ErrorCode; readonly message: string };
  readonly message?: Message;
}

const storedEntry = z.object({
  client_msg_id: z.string().min(1).max(100),
  conversation_id: z.string(),
  content: z.string(),
  message_type: z.enum(["text", "image", "file"]).optional(),
  reply_to: z.string().nullable().optional(),
  attachments: z.array(attachment).optional(),
  created_at: z.string(),
  state: z.enum(["pending", "failed"]),
  attempts: z.number().int().nonnegative(),
  error: z.object({ code: errorCode, message: z.string() }).optional(),
});

export interface OutboxOptions {
  readonly storage: KeyValueStorage;
  readonly key: string;
  /** Sends one message (the `send_message` command); resolves with the stored message. */
  readonly send: (entry: OutboxEntry) => Promise<Message>;
  readonly newId: () => string;
  readonly clock: Clock;
  readonly random: () => number;
  readonly backoff: BackoffOptions;
  /** Sends on their way at once, at most. */
  readonly concurrency: number;
}

interface OutboxEvents {
  /** An entry was added or changed state. */
  change: OutboxEntry;
  sent: OutboxEntry & { readonly message: Message };
}

/**
 * Unsent messages, persisted in the client's storage on every change (a reload loses none), sent in order with
 * bounded concurrency, retried with the same client_msg_id until acked; refused ones are kept as `failed`.
 */
export class Outbox extends Emitter<OutboxEvents> {
  private entries: OutboxEntry[] = [];
  private readonly sending = new Set<string>();
  private pausedUntil = 0;
  private resumeTimer: TimerHandle | undefined;
  private failures = 0;
  private stopped = false;

  constructor(private readonly options: OutboxOptions) {
    super();
    this.entries = load(options.storage, options.key);
  }

  /** Every entry not yet sent (pending first come first), plus those sent during this session until forgotten. */
  list(conversationId?: string): readonly OutboxEntry[] {
    return conversationId === undefined ? [...this.entries] : this.entries.filter((entry) => entry.conversation_id === conversationId);
  }

  enqueue(conversationId: string, message: OutgoingMessage): OutboxEntry {
    const entry: OutboxEntry = {
      ...message,
      client_msg_id: this.options.newId(),
      conversation_id: conversationId,
      created_at: new Date(this.options.clock.now()).toISOString(),
      state: "pending",
      attempts: 0,
    };
    this.entries.push(entry);
    this.save();
    this.emit("change", entry);
    this.flush();
    return entry;
  }

  /** Puts a failed entry back in line (same client_msg_id). */
  retry(clientMsgId: string): void {
    const entry = this.entries.find((candidate) => candidate.client_msg_id === clientMsgId);
    if (entry?.state !== "failed") return;
    const { error: _error, ...rest } = entry;
    this.replace({ ...rest, state: "pending" });
    this.flush();
  }

  /** Drops an entry that is not on its way (failed ones, or sent ones kept for display). */
  discard(clientMsgId: string): void {
    if (this.sending.has(clientMsgId)) return;
    this.entries = this.entries.filter((entry) => entry.client_msg_id !== clientMsgId);
    this.save();
  }

  /** Starts as many pending sends as the bound allows. */
  flush(): void {
    if (this.stopped) return;
    const now = this.options.clock.now();
    if (now < this.pausedUntil) {
      // Node's timers may fire a millisecond before Date.now() reaches their time: wait the rest, or stall for good.
      if (this.resumeTimer === undefined) this.pause(0);
      return;
    }
    for (const entry of this.entries) {
      if (this.sending.size >= this.options.concurrency) return;
      if (entry.state !== "pending" || this.sending.has(entry.client_msg_id)) continue;
      this.start(entry);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.resumeTimer !== undefined) this.options.clock.clearTimeout(this.resumeTimer);
  }

  private start(entry: OutboxEntry): void {
    this.sending.add(entry.client_msg_id);
    const attempt = { ...entry, attempts: entry.attempts + 1 };
    this.replace(attempt, false);
    this.options.send(attempt).then(
      (message) => {
        this.sending.delete(entry.client_msg_id);
        this.failures = 0;
        const sent = { ...attempt, state: "sent" as const, message };
        this.replace(sent);
        // Kept in memory only until the next change so views can swap it for the stored message.
        this.entries = this.entries.filter((candidate) => candidate.client_msg_id !== entry.client_msg_id);
        this.save();
        this.emit("sent", sent);
        this.flush();
      },
      (error: unknown) => {
        this.sending.delete(entry.client_msg_id);
        if (error instanceof ParleyRequestError && !isRetryable(error.code)) {
          this.replace({ ...attempt, state: "failed", error: { code: error.code, message: error.message } });
          this.flush();
          return;
        }
        if (error instanceof ParleyTerminalError) return; // Stays pending, in storage, for the next session.
        // The network, the server or a rate limit: the same client_msg_id goes again later.
        this.failures += 1;
        const wait = error instanceof ParleyRequestError && error.retryAfterMs !== undefined ? error.retryAfterMs : backoffDelay(this.options.backoff, this.failures, this.options.random);
        this.pause(wait);
      },
    );
  }

  private pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.options.clock.now() + ms);
    if (this.resumeTimer !== undefined) this.options.clock.clearTimeout(this.resumeTimer);
    this.resumeTimer = this.options.clock.setTimeout(() => {
      this.resumeTimer = undefined;
      this.flush();
    }, Math.max(0, this.pausedUntil - this.options.clock.now()));
  }

  private replace(entry: OutboxEntry, announce = true): void {
    this.entries = this.entries.map((candidate) => (candidate.client_msg_id === entry.client_msg_id ? entry : candidate));
    this.save();
    if (announce) this.emit("change", entry);
  }

  private save(): void {
    const stored = this.entries.filter((entry) => entry.state !== "sent").map(({ message: _message, ...rest }) => rest);
    if (stored.length === 0) this.options.storage.removeItem(this.options.key);
    else this.options.storage.setItem(this.options.key, JSON.stringify(stored));
  }
}

function load(storage: KeyValueStorage, key: string): OutboxEntry[] {
  const text = storage.getItem(key);
  if (text === null) return [];
  try {
    const parsed = z.array(storedEntry).safeParse(JSON.parse(text));
    if (!parsed.success) return [];
    return parsed.data.map((entry) => stripUndefined(entry) as OutboxEntry);
  } catch {
    return [];
  }
}

/** Optional fields stay absent rather than `undefined` (exact optional property types). */
function stripUndefined(value: object): object {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined));
}
