import { ackDataSchemas, CloseCode, parseServerFrame, type AckDataOf, type AckedCommandType, type ConnectedFrame } from "@parley/protocol";
import { backoffDelay } from "./backoff";
import type { TimerHandle } from "./clock";
import type { CommandFields, CommandOptions, ConnectionEvents, ConnectionSettings, ConnectionState } from "./connection-types";
import { Emitter } from "./emitter";
import { errorCodeOf, ParleyProtocolError, ParleyRequestError, ParleyTerminalError, TERMINAL_CLOSES, type TerminalReason } from "./errors";
import { watchNetwork } from "./network-watch";
import { PendingCommands, type Pending } from "./pending-commands";
import { OPEN, type CloseEventLike, type MessageEventLike, type WebSocketLike } from "./websocket";

export type { CommandFields, CommandOptions, ConnectionSettings, ConnectionState, ServerEventFrame, ServerEventType } from "./connection-types";

/** One logical connection over many sockets: auth, reconnects with backoff and jitter, heartbeats, and commands. */
export class Connection extends Emitter<ConnectionEvents> {
  private stateValue: ConnectionState = "idle";
  private socket: WebSocketLike | undefined;
  private urlIndex = 0;
  private attempt = 0;
  private rejectedTokens = 0;
  private reconnectAt: number | undefined;
  private readonly commands: PendingCommands;
  private retryTimer: TimerHandle | undefined;
  private silenceTimer: TimerHandle | undefined;
  private pongTimer: TimerHandle | undefined;
  private connectTimer: TimerHandle | undefined;
  private refreshTimer: TimerHandle | undefined;
  private readonly detachNetwork: () => void;
  /** The browser says the network is down (navigator.onLine and its online/offline events). */
  private networkDown = (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;

  constructor(private readonly settings: ConnectionSettings) {
    super();
    this.commands = new PendingCommands(settings.clock);
    if (typeof settings.urls !== "function" && settings.urls.length === 0) throw new TypeError("at least one WebSocket URL is needed");
    this.detachNetwork = watchNetwork(
      () => {
        this.networkDown = false;
        // Back online: retry now rather than at the end of a long backoff.
        if (this.retryTimer !== undefined) {
          this.settings.clock.clearTimeout(this.retryTimer);
          this.retryTimer = undefined;
          this.open();
        }
      },
      () => {
        this.networkDown = true;
        if (this.stateValue === "reconnecting") this.setState("offline");
      },
    );
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Commands waiting to be written plus those written and not yet answered. */
  get pendingCommands(): number {
    return this.commands.size;
  }

  start(): void {
    if (this.stateValue !== "idle") return;
    this.open();
  }

  /** Stops for good: the socket closes 1000, pending commands reject. Safe to call twice. */
  close(): void {
    this.terminate(new ParleyTerminalError("closed", "The client was closed."), CloseCode.normal);
  }

  /** Sends a command; resolves with its typed ack data, rejects with ParleyRequestError (the protocol code). */
  command<K extends AckedCommandType>(type: K, fields: CommandFields<K>, options: CommandOptions & { readonly urgent?: boolean } = {}): Promise<AckDataOf<K>> {
    return new Promise<AckDataOf<K>>((resolve, reject) => {
      if (this.stateValue === "closed") {
        reject(new ParleyTerminalError("closed", "The client is closed."));
        return;
      }
      const pending: Pending = {
        order: this.commands.nextOrder(),
        type,
        fields,
        resolve: (data) => {
          const parsed = ackDataSchemas[type].safeParse(data);
          if (parsed.success) resolve(parsed.data as AckDataOf<K>);
          else reject(new ParleyProtocolError(`${type}: unexpected ack data: ${parsed.error.issues[0]?.message ?? "invalid"}`));
        },
        reject,
        timeoutMs: options.timeoutMs ?? this.settings.commandTimeoutMs,
        onDisconnect: options.onDisconnect ?? "retry",
        urgent: options.urgent === true,
      };
      if (pending.urgent) {
        if (this.stateValue === "open") this.write(pending);
        else reject(new ParleyRequestError("unavailable", "Not connected."));
        return;
      }
      this.commands.enqueue(pending);
      this.pump();
    });
  }

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.emit("state", state);
  }

  private open(): void {
    if (this.stateValue === "closed") return;
    this.retryTimer = undefined;
    if (this.stateValue === "idle") this.setState("connecting");
    else this.setState(this.isOffline() ? "offline" : "reconnecting");
    const urls = this.settings.urls;
    const url = typeof urls === "function" ? urls() : (urls[this.urlIndex % urls.length] ?? "");
    void this.settings.tokens.current().then(
      (token) => {
        if (this.stateValue === "closed" || this.socket !== undefined) return;
        this.openSocket(url, token);
      },
      (error: unknown) => {
        this.terminate(new ParleyTerminalError("unauthorized", `The token provider failed: ${messageOf(error)}`));
      },
    );
  }

  private openSocket(url: string, token: string): void {
    let socket: WebSocketLike;
    try {
      socket = new this.settings.WebSocket(url);
    } catch (error) {
      this.emit("error", error instanceof Error ? error : new Error(messageOf(error)));
      this.lost(undefined, 1006);
      return;
    }
    this.socket = socket;
    this.connectTimer = this.settings.clock.setTimeout(() => {
      this.drop(socket);
    }, this.settings.connectTimeoutMs);
    socket.onopen = () => {
      if (this.socket !== socket) return;
      // The token goes in a frame, never in the URL (where proxies log it); a refusal then closes 4001 with a code.
      socket.send(JSON.stringify({ type: "auth", token }));
    };
    socket.onmessage = (event: MessageEventLike) => {
      if (this.socket !== socket) return;
      if (typeof event.data !== "string") {
        this.emit("error", new ParleyProtocolError("a binary frame arrived"));
        return;
      }
      this.received(event.data);
    };
    socket.onclose = (event: CloseEventLike) => {
      if (this.socket !== socket) return;
      this.lost(socket, event.code);
    };
    socket.onerror = () => {
      // A close event follows; nothing to do here.
    };
  }

  private received(text: string): void {
    this.heard();
    const parsed = parseServerFrame(text);
    if (!parsed.ok) {
      this.emit("error", new ParleyProtocolError(`a frame did not parse: ${parsed.message}`));
      return;
    }
    const frame = parsed.frame;
    switch (frame.type) {
      case "connected":
        this.opened(frame);
        return;
      case "pong":
      case "ack":
      case "error": {
        const pending = this.commands.answered(frame.id);
        if (pending === undefined) {
          if (frame.type === "error") this.emit("error", new ParleyRequestError(frame.code, frame.message, undefined, frame.field, frame.retry_after_ms));
          return;
        }
        if (frame.type === "error") pending.reject(new ParleyRequestError(errorCodeOf(frame.code), frame.message, undefined, frame.field, frame.retry_after_ms));
        else pending.resolve(frame.type === "ack" ? frame.data : {});
        this.pump();
        return;
      }
      case "reconnect":
        this.reconnectAt = this.settings.clock.now() + frame.after_ms;
        this.emit("reconnect", { reason: frame.reason, after_ms: frame.after_ms });
        return;
      default:
        this.emit("event", frame);
    }
  }

  private opened(frame: ConnectedFrame): void {
    this.clearTimer("connectTimer");
    this.attempt = 0;
    this.rejectedTokens = 0;
    this.reconnectAt = undefined;
    this.setState("open");
    this.emit("connected", frame);
    this.scheduleRefresh();
    this.pump();
  }

  private write(pending: Pending): void {
    const socket = this.socket;
    if (socket?.readyState !== OPEN) {
      // Between a close and its event: urgent commands belong to that socket, the others wait for the next one.
      if (pending.urgent) pending.reject(new ParleyRequestError("unavailable", "Not connected."));
      else this.commands.putBack(pending);
      return;
    }
    const id = this.commands.written(pending, () => {
      this.pump();
    });
    socket.send(JSON.stringify({ type: pending.type, id, ...pending.fields }));
  }

  /** Writes queued commands while the connection is open and fewer than `maxInFlight` wait for an answer. */
  private pump(): void {
    // A socket may already be closing before its close event: then everything waits for the next one.
    if (this.stateValue !== "open" || this.socket?.readyState !== OPEN) return;
    for (let next = this.commands.takeNext(this.settings.maxInFlight); next !== undefined; next = this.commands.takeNext(this.settings.maxInFlight)) {
      this.write(next);
    }
  }

  /** Any frame proves the socket alive: restart the silence timer. */
  private heard(): void {
    this.clearTimer("pongTimer");
    this.clearTimer("silenceTimer");
    const socket = this.socket;
    if (socket === undefined) return;
    this.silenceTimer = this.settings.clock.setTimeout(() => {
      this.silenceTimer = undefined;
      if (this.stateValue !== "open" || this.socket !== socket) return;
      this.write({
        order: this.commands.nextOrder(),
        type: "ping",
        fields: {},
        resolve: () => undefined,
        reject: () => undefined,
        timeoutMs: this.settings.pongTimeoutMs * 2,
        onDisconnect: "reject",
        urgent: true,
      });
      this.pongTimer = this.settings.clock.setTimeout(() => {
        // Silent past a ping: the socket is dead (a lost network says nothing); do not wait for TCP.
        this.drop(socket);
      }, this.settings.pongTimeoutMs);
    }, this.settings.pingAfterMs);
  }

  /** Abandons a socket that stopped answering and reconnects at once (its close event may never come). */
  private drop(socket: WebSocketLike): void {
    if (this.socket !== socket) return;
    try {
      socket.close(4000, "unresponsive");
    } catch {
      // Already closing.
    }
    this.lost(socket, 1006);
  }

  private lost(socket: WebSocketLike | undefined, code: number): void {
    if (socket !== undefined) detach(socket);
    this.socket = undefined;
    for (const name of ["silenceTimer", "pongTimer", "connectTimer", "refreshTimer"] as const) this.clearTimer(name);
    this.commands.socketLost();
    if (this.stateValue === "closed") return;
    const terminal = TERMINAL_CLOSES[code];
    if (terminal !== undefined) {
      this.terminate(new ParleyTerminalError(terminal, terminalMessage(terminal), code));
      return;
    }
    this.urlIndex += 1;
    if (code === CloseCode.badToken) {
      this.rejectedTokens += 1;
      if (this.rejectedTokens >= 2) {
        this.terminate(new ParleyTerminalError("unauthorized", "The server refused fresh tokens twice; sign in again.", code));
        return;
      }
      this.setState("reconnecting");
      void this.settings.tokens.fetch("rejected").then(
        () => {
          this.schedule(0);
        },
        (error: unknown) => {
          this.terminate(new ParleyTerminalError("unauthorized", `The token provider failed: ${messageOf(error)}`, code));
        },
      );
      return;
    }
    if (code === CloseCode.nodeRestarting || this.reconnectAt !== undefined) {
      // A draining edge spread its clients over time: come back when it said, not in a herd.
      const wait = this.reconnectAt === undefined ? backoffDelay(this.settings.backoff, 0, this.settings.random) : Math.max(0, this.reconnectAt - this.settings.clock.now());
      this.reconnectAt = undefined;
      this.setState("reconnecting");
      this.schedule(wait);
      return;
    }
    const delay = backoffDelay(this.settings.backoff, this.attempt, this.settings.random);
    this.attempt += 1;
    this.setState(this.isOffline() ? "offline" : "reconnecting");
    this.schedule(delay);
  }

  private schedule(delayMs: number): void {
    if (this.stateValue === "closed") return;
    this.clearTimer("retryTimer");
    this.retryTimer = this.settings.clock.setTimeout(() => {
      this.open();
    }, delayMs);
  }

  private isOffline(): boolean {
    return this.networkDown || this.attempt >= this.settings.offlineAfterAttempts;
  }

  private scheduleRefresh(): void {
    this.clearTimer("refreshTimer");
    const delay = this.settings.tokens.refreshIn(this.settings.tokenRefreshMarginMs);
    if (delay === undefined) return;
    this.refreshTimer = this.settings.clock.setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh();
    }, delay);
  }

  /** Gets a fresh token and hands it to the open socket (`auth` frame), before the old one expires. */
  private async refresh(): Promise<void> {
    try {
      const token = await this.settings.tokens.fetch("refresh");
      if (this.stateValue !== "open") return;
      await this.command("auth", { token }, { urgent: true, onDisconnect: "reject" });
      this.scheduleRefresh();
    } catch (error) {
      this.emit("error", error instanceof Error ? error : new Error(messageOf(error)));
      // Try again shortly; if the token expires meanwhile the server closes 4001 and the reconnect fetches one.
      if (this.stateValue === "open") {
        this.refreshTimer = this.settings.clock.setTimeout(() => {
          this.refreshTimer = undefined;
          void this.refresh();
        }, 5_000);
      }
    }
  }

  private terminate(error: ParleyTerminalError, closeCode?: number): void {
    if (this.stateValue === "closed") return;
    this.setState("closed");
    this.detachNetwork();
    for (const name of ["retryTimer", "silenceTimer", "pongTimer", "connectTimer", "refreshTimer"] as const) this.clearTimer(name);
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined) {
      detach(socket);
      try {
        socket.close(closeCode ?? CloseCode.normal, error.reason);
      } catch {
        // Already closed.
      }
    }
    this.commands.rejectAll(error);
    this.emit("terminal", error);
  }

  private clearTimer(name: "retryTimer" | "silenceTimer" | "pongTimer" | "connectTimer" | "refreshTimer"): void {
    const timer = this[name];
    if (timer !== undefined) this.settings.clock.clearTimeout(timer);
    this[name] = undefined;
  }
}

function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
}

function terminalMessage(reason: TerminalReason): string {
  switch (reason) {
    case "forbidden":
      return "The server does not allow this token to connect (4003).";
    case "abuse":
      return "The server closed the connection for persistent abuse (4008).";
    case "too_many_connections":
      return "Too many connections for this user (4010): close another one first.";
    case "unauthorized":
      return "The token was refused.";
    case "closed":
      return "The client was closed.";
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
