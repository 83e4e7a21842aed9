import type { TokenClaims } from "@parley/auth";
import { CloseCode, closeCodeOf, ERRORS, type ErrorCode, type ServerFrame } from "@parley/protocol";
import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import { systemClock, type Clock, type ClockTimer } from "@parley/config";
import { EventGate, type DeliverableEvent } from "./delivery/event-gate";
import type { EdgeMetrics } from "./metrics";

/** Every frame an edge writes is one of the protocol's server frames (the SDK parses the same union). */
export type OutgoingFrame = ServerFrame;

/** Who is on the socket, from a verified token. */
export interface Identity {
  readonly userId: string;
  readonly token: string;
  readonly claims: TokenClaims;
}

/** awaiting_auth: no token yet; authenticating: an `auth` frame is being checked; open: `connected` was sent. */
export type ConnectionState = "awaiting_auth" | "authenticating" | "open";

export interface ConnectionLimits {
  /** bufferedAmount past which the socket is a slow consumer (closed 4009). */
  readonly slowConsumerBytes: number;
  /** Invalid or refused frames tolerated within `strikeWindowMs` before the socket is closed 4008. */
  readonly maxStrikes: number;
  readonly strikeWindowMs: number;
  /** Commands waiting behind the one in flight. */
  readonly maxPendingCommands: number;
  /** Live events held during a replay before the socket is closed 4009. */
  readonly maxHeldEvents: number;
}

export const DEFAULT_LIMITS: Omit<ConnectionLimits, "slowConsumerBytes"> = {
  maxStrikes: 10,
  strikeWindowMs: 10_000,
  maxPendingCommands: 64,
  maxHeldEvents: 10_000,
};

export interface ConnectionOptions {
  readonly ws: WebSocket;
  /**
   * The upgraded TCP socket under `ws` (the one handed to `handleUpgrade`): corked while a turn of the event loop
   * writes to it, so the frames of one turn (an event and its unread count, say) leave in one write.
   */
  readonly socket?: Duplex;
  readonly id: string;
  readonly remoteAddress: string | undefined;
  readonly limits: ConnectionLimits;
  readonly metrics: EdgeMetrics;
  readonly clock: Clock;
  /** Runs once when the connection starts closing, whoever closed it: the cleanup. */
  readonly onClosing: (connection: Connection) => void;
  readonly onTaskError: (error: unknown) => void;
}

/** How long a close handshake may take before the socket is destroyed (a slow consumer never reads the close frame). */
const CLOSE_HANDSHAKE_MS = 5_000;
/** How long writes wait for a congested socket to drain before it counts as a slow consumer. */
const WRITABLE_TIMEOUT_MS = 10_000;

/** Sockets corked during this turn of the event loop, uncorked together right after it (see {@link corkForTurn}). */
let corked: Duplex[] = [];

function uncorkAll(): void {
  const sockets = corked;
  corked = [];
  for (const socket of sockets) socket.uncork();
}

/**
 * Holds a socket's writes until the current turn of the event loop ends: one write (one syscall) per socket per turn
 * instead of one per frame. One shared immediate per turn for every socket, nothing per socket.
 */
function corkForTurn(socket: Duplex): void {
  if (socket.writableCorked > 0 || socket.destroyed) return;
  socket.cork();
  if (corked.length === 0) setImmediate(uncorkAll);
  corked.push(socket);
}

/** One client socket: framing, the close code table, slow-consumer bound, event ordering and a serial command queue. */
export class Connection {
  state: ConnectionState = "awaiting_auth";
  identity: Identity | undefined;
  /** Registered in the cluster-wide presence store (so it must be unregistered). */
  registered = false;
  /** Answered the last heartbeat ping. */
  alive = true;
  // Created on first use: most sockets never subscribe, type or watch, and idle memory per socket counts.
  private subscribed: Set<string> | undefined;
  private typing: Set<string> | undefined;
  private watching: Set<string> | undefined;
  private readonly timers = new Set<ClockTimer>();
  readonly events: EventGate;
  private closing = false;
  private strikes: number[] = [];
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly options: ConnectionOptions) {
    // The socket is the gate's sink itself: no closures per socket for it.
    this.events = new EventGate(this);
    options.ws.on("close", (code: number) => {
      this.clearTimers();
      if (this.closing) return;
      this.closing = true;
      options.metrics.closes.inc({ code: String(code) });
      options.onClosing(this);
    });
  }

  /** Conversations this socket `subscribe`d to (typing). */
  get subscriptions(): Set<string> {
    return (this.subscribed ??= new Set());
  }
  /** Conversations this socket's user is typing in, from this socket. */
  get typingIn(): Set<string> {
    return (this.typing ??= new Set());
  }
  /** Users whose presence this socket watches. */
  get watched(): Set<string> {
    return (this.watching ??= new Set());
  }

  get id(): string {
    return this.options.id;
  }
  get remoteAddress(): string | undefined {
    return this.options.remoteAddress;
  }
  isOpen(): boolean {
    return !this.closing && this.options.ws.readyState === this.options.ws.OPEN;
  }
  isClosing(): boolean {
    return this.closing;
  }
  /** The user id; only valid once authenticated. */
  get userId(): string {
    if (this.identity === undefined) throw new Error("connection is not authenticated");
    return this.identity.userId;
  }

  /** Writes a frame, unless the client has fallen too far behind: then it is closed 4009, never silently skipped. */
  send(frame: OutgoingFrame): boolean {
    return this.sendText(JSON.stringify(frame), frame.type);
  }

  /** Writes an already serialised frame (an event's, shared by every socket it goes to). */
  sendText(text: string, type: string): boolean {
    if (!this.isOpen()) return false;
    if (this.options.ws.bufferedAmount > this.options.limits.slowConsumerBytes) {
      this.close("slow_consumer");
      return false;
    }
    if (this.options.socket) corkForTurn(this.options.socket);
    this.options.ws.send(text);
    this.options.metrics.framesSent.inc({ type });
    return true;
  }

  ack(id: string | undefined, data: unknown = {}): void {
    this.send({ type: "ack", ...(id === undefined ? {} : { id }), data: isRecord(data) ? data : {} });
  }

  error(id: string | undefined, code: ErrorCode, message: string = ERRORS[code].message, extra: { field?: string; retry_after_ms?: number } = {}): void {
    this.send({ type: "error", ...(id === undefined ? {} : { id }), code, message, ...extra });
  }

  /** A live event of this user's stream. */
  deliver(event: DeliverableEvent): void {
    if (!this.closing) this.events.offer(event);
  }

  /** For the event gate: events held past this many close the socket. */
  get maxHeld(): number {
    return this.options.limits.maxHeldEvents;
  }

  /** For the event gate: too many events piled up while held. */
  overflow(): void {
    this.close("slow_consumer");
  }

  /** For the event gate: writes one event's frame. */
  emit(event: DeliverableEvent): boolean {
    const sent = this.sendText(event.frame, event.type);
    if (sent && event.ts !== undefined) this.options.metrics.deliveryLatency.observe(Math.max(0, this.options.clock.now().getTime() - event.ts) / 1000);
    return sent;
  }

  congested(): boolean {
    return this.options.ws.bufferedAmount > this.options.limits.slowConsumerBytes / 2;
  }

  /** Resolves once the socket's buffer is at most half full (replays pace themselves); false when it is gone. */
  async writable(): Promise<boolean> {
    const deadline = Date.now() + WRITABLE_TIMEOUT_MS;
    while (this.congested()) {
      if (!this.isOpen()) return false;
      if (Date.now() > deadline) {
        this.close("slow_consumer");
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.isOpen();
  }

  /** Counts an invalid or refused frame; a client that keeps at it is closed 4008. False when it was closed. */
  strike(): boolean {
    const now = this.options.clock.now().getTime();
    this.strikes = this.strikes.filter((at) => now - at < this.options.limits.strikeWindowMs);
    this.strikes.push(now);
    if (this.strikes.length <= this.options.limits.maxStrikes) return true;
    this.close("abuse");
    return false;
  }

  /** Runs commands one at a time, in arrival order; false when too many are waiting. */
  enqueue(task: () => Promise<void>): boolean {
    if (this.pending >= this.options.limits.maxPendingCommands) return false;
    this.pending += 1;
    this.queue = this.queue
      .then(task)
      .catch(this.options.onTaskError)
      .finally(() => {
        this.pending -= 1;
      });
    return true;
  }

  /** Resolves when the commands queued so far are done, or after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.queue, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Closes with the close code of `code` in the one error table (the code is the close reason). */
  close(code: ErrorCode): void {
    if (this.closing) return;
    this.closing = true;
    const closeCode = closeCodeOf(code) ?? CloseCode.internalError;
    this.options.metrics.closes.inc({ code: String(closeCode) });
    const ws = this.options.ws;
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      ws.close(closeCode, code);
      this.timers.add(systemClock.setTimeout(() => ws.terminate(), CLOSE_HANDSHAKE_MS));
    }
    this.options.onClosing(this);
  }

  /** Drops a dead socket without a close handshake (it stopped answering pings). */
  terminate(): void {
    if (!this.closing) {
      this.closing = true;
      this.options.metrics.closes.inc({ code: "1006" });
      this.options.onClosing(this);
    }
    this.options.ws.terminate();
  }

  ping(): void {
    if (this.isOpen()) this.options.ws.ping();
  }

  /**
   * Runs `action` after `ms` unless the connection closes first. Real time unless `clock` is given: the deadlines a
   * test moves the clock past (auth, token expiry) run on the injected clock, the technical ones on real time.
   */
  after(ms: number, action: () => void, clock: Clock = systemClock): ClockTimer {
    const timer = clock.setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  cancel(timer: ClockTimer | undefined): void {
    if (timer === undefined) return;
    timer.clear();
    this.timers.delete(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) timer.clear();
    this.timers.clear();
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
