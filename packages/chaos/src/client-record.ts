import type { ConnectionState } from "@parley/sdk";
import { ParleyClient } from "@parley/sdk";
import { WebSocket } from "ws";

/** What one SDK client saw: its acked sends, what it received (by conversation, in release order) and every reconnect. */
export interface ClientRecord {
  readonly userId: string;
  readonly client: ParleyClient;
  readonly conversations: readonly string[];
  /** Sends the server acked: conversation, seq, content. */
  readonly acked: { readonly conversationId: string; readonly seq: number; readonly content: string }[];
  /** Sends refused for good (a `failed` outbox entry), with the code. */
  readonly failed: { readonly conversationId: string; readonly code: string }[];
  /** Released messages by conversation: seq and content, in the order the client released them. */
  readonly received: Map<string, { readonly seq: number; readonly content: string; readonly senderId: string | null }[]>;
  /** Times (ms since epoch) of every `connected`, the first one included. */
  readonly connects: number[];
  /** State changes with their time. */
  readonly states: { readonly at: number; readonly state: ConnectionState }[];
  /** `resume_too_old`: the stream could not be resumed and history was refetched. */
  resyncs: number;
  /** Queues a message with a content unique to this client. */
  send(conversationId: string): void;
  /** Marks one of its conversations read up to the last seq it has. */
  readUpToDate(): void;
}

export interface ClientOptions {
  readonly apiUrl: string;
  readonly wsUrls: readonly string[];
  readonly user: { readonly id: string; readonly token: string };
  readonly conversations: readonly string[];
}

/** An SDK client as an application would run it, its events recorded for the verdict. */
export function createClient(options: ClientOptions): ClientRecord {
  const client = new ParleyClient({
    apiUrl: options.apiUrl,
    wsUrl: [...options.wsUrls],
    token: () => options.user.token,
    WebSocket,
    reconnect: { initialDelayMs: 250, maxDelayMs: 3_000 },
    // Quicker than the defaults so a stalled edge is left within seconds, not half a minute.
    heartbeat: { pingAfterMs: 3_000, pongTimeoutMs: 4_000 },
    storageKey: `chaos:${options.user.id}`,
  });
  let counter = 0;
  const record: ClientRecord = {
    userId: options.user.id,
    client,
    conversations: options.conversations,
    acked: [],
    failed: [],
    received: new Map(options.conversations.map((id) => [id, []])),
    connects: [],
    states: [],
    resyncs: 0,
    send: (conversationId) => {
      counter++;
      client.send(conversationId, `${options.user.id}#${counter}`);
    },
    readUpToDate: () => {
      const id = options.conversations[counter % options.conversations.length];
      const seq = id === undefined ? undefined : client.lastSeq(id);
      if (id === undefined || seq === undefined || seq === 0) return;
      // A mark lost with its socket is retried by the SDK; one that fails for good changes nothing to check.
      client.markRead(id, seq).catch(() => undefined);
    },
  };
  client.on("message", (message) => {
    record.received.get(message.conversation_id)?.push({ seq: message.seq, content: message.content ?? "", senderId: message.sender_id });
  });
  client.on("outbox", (entry) => {
    if (entry.state === "sent" && entry.message) record.acked.push({ conversationId: entry.conversation_id, seq: entry.message.seq, content: entry.content });
    if (entry.state === "failed") record.failed.push({ conversationId: entry.conversation_id, code: entry.error?.code ?? "unknown" });
  });
  client.on("connected", () => record.connects.push(Date.now()));
  client.on("state", (state) => record.states.push({ at: Date.now(), state }));
  client.on("resync", () => {
    record.resyncs++;
  });
  return record;
}
