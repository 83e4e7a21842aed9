import type { AckedCommandType, ClientFrameOf, ConnectedFrame, ServerFrame } from "@parley/protocol";
import type { BackoffOptions } from "./backoff";
import type { Clock } from "./clock";
import type { ParleyTerminalError } from "./errors";
import type { TokenSource } from "./token-provider";
import type { WebSocketConstructor } from "./websocket";

/**
 * idle: not started; connecting: the first attempt; open: `connected` arrived; reconnecting: waiting to retry or
 * retrying; offline: retrying, but the network is down (the browser says so, or several attempts failed in a row);
 * closed: stopped for good (`close()` or a terminal close code).
 */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "offline" | "closed";

/** Server frames that are events (everything but the answers and the connection's own frames). */
export type ServerEventFrame = Exclude<ServerFrame, { type: "connected" | "pong" | "ack" | "error" | "reconnect" }>;
export type ServerEventType = ServerEventFrame["type"];

/** A command's fields: its frame without `type` and `id`. */
export type CommandFields<K extends AckedCommandType> = Omit<ClientFrameOf<K>, "type" | "id">;

export interface CommandOptions {
  /** Rejects with ParleyTimeoutError when no answer came this long after the command was written (default: the client's). */
  readonly timeoutMs?: number;
  /** What happens when the socket drops before the answer: written again after the reconnect (default), or rejected. */
  readonly onDisconnect?: "retry" | "reject";
}

export interface ConnectionSettings {
  /** Edge URLs tried in turn, or a function asked before every connect. */
  readonly urls: readonly string[] | (() => string);
  readonly WebSocket: WebSocketConstructor;
  readonly tokens: TokenSource;
  readonly clock: Clock;
  readonly random: () => number;
  readonly backoff: BackoffOptions;
  /** Failed attempts in a row after which the state says `offline`. */
  readonly offlineAfterAttempts: number;
  /** Silence (no frame received) after which the client sends `ping`. */
  readonly pingAfterMs: number;
  /** How long a `ping` may stay unanswered before the socket counts as dead. */
  readonly pongTimeoutMs: number;
  /** From opening a socket to `connected`. */
  readonly connectTimeoutMs: number;
  /** Commands written and not yet answered, at most (the edge refuses more than 64 waiting). */
  readonly maxInFlight: number;
  readonly commandTimeoutMs: number;
  /** How long before the token's `exp` a fresh one is sent on the open socket. */
  readonly tokenRefreshMarginMs: number;
}

/** What a Connection emits. */
export interface ConnectionEvents {
  state: ConnectionState;
  /** Every (re)connect, before queued commands are written: the place to send `resume` first. */
  connected: ConnectedFrame;
  event: ServerEventFrame;
  /** An `error` frame that answers no command, or a frame that does not parse. */
  error: Error;
  /** The server announced a drain: reconnect after `after_ms`. */
  reconnect: { readonly reason: string; readonly after_ms: number };
  terminal: ParleyTerminalError;
}
