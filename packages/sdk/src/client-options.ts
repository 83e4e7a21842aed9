import type { ConnectedFrame, Message } from "@parley/protocol";
import type { BackoffOptions } from "./backoff";
import type { Clock } from "./clock";
import type { ConnectionSettings, ConnectionState, ServerEventFrame, ServerEventType } from "./connection-types";
import type { ParleyTerminalError } from "./errors";
import type { OutboxEntry } from "./outbox";
import type { FetchLike } from "./rest-client";
import type { KeyValueStorage } from "./storage";
import type { TokenProvider } from "./token-provider";
import type { WebSocketConstructor } from "./websocket";

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

/** The connection's settings: the client's options with their defaults, and the parts the client made. */
export function connectionSettings(
  options: ParleyClientOptions,
  parts: Pick<ConnectionSettings, "WebSocket" | "tokens" | "clock" | "random" | "backoff">,
): ConnectionSettings {
  return {
    ...parts,
    urls: wsUrls(options),
    offlineAfterAttempts: options.reconnect?.offlineAfterAttempts ?? 3,
    pingAfterMs: options.heartbeat?.pingAfterMs ?? 25_000,
    pongTimeoutMs: options.heartbeat?.pongTimeoutMs ?? 10_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    maxInFlight: options.maxInFlight ?? 32,
    commandTimeoutMs: options.commandTimeoutMs ?? 30_000,
    tokenRefreshMarginMs: options.tokenRefreshMarginMs ?? 60_000,
  };
}

function wsUrls(options: ParleyClientOptions): readonly string[] | (() => string) {
  if (typeof options.wsUrl === "function") return options.wsUrl;
  if (options.wsUrl !== undefined) return typeof options.wsUrl === "string" ? [options.wsUrl] : [...options.wsUrl];
  const url = new URL("/v1/ws", options.apiUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return [url.toString()];
}
