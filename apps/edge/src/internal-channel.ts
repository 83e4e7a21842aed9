import type { Logger } from "@parley/observability";
import { isErrorCode, parseJsonWith } from "@parley/protocol";
import {
  INTERNAL_CHANNEL_PATH,
  internalResponseFrame,
  MAX_INTERNAL_BATCH,
  type InternalCommand,
  type InternalOp,
  type InternalResult,
} from "@parley/protocol/internal";
import { WebSocket } from "ws";
import { API_UNAVAILABLE, type ApiAnswer, type ApiCall, type ApiCaller, type ApiGateway } from "./api-client";

export interface InternalChannelOptions {
  /** The API's base URL (http:// or https://); the channel is its ws:// or wss:// twin. */
  readonly apiUrl: string;
  readonly secret: string;
  /** Used while the channel is down (API restarting, misconfigured secret): REST with each user's token. */
  readonly fallback: ApiGateway;
  readonly logger: Logger;
  /** Deadline of one command; 10 s unless given. */
  readonly timeoutMs?: number;
  readonly onStateChange?: (open: boolean) => void;
}

interface Pending {
  readonly resolve: (answer: ApiAnswer) => void;
  readonly deadline: number;
}

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/**
 * The edge's end of the internal channel: one WebSocket to the API carrying the commands of every user on this edge.
 * Commands issued in the same tick share a frame; answers come back by id, in any order. One sweep timer enforces
 * every command's deadline. While the channel is down, commands take the REST path instead, so nothing waits on it.
 */
export class InternalChannel implements ApiGateway {
  private ws: WebSocket | undefined;
  private open = false;
  private closed = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private outgoing: InternalCommand[] = [];
  private flushScheduled = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly sweep: NodeJS.Timeout;
  private readonly timeoutMs: number;
  private readonly url: string;

  constructor(private readonly options: InternalChannelOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const base = new URL(options.apiUrl);
    base.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    base.pathname = base.pathname.replace(/\/+$/, "") + INTERNAL_CHANNEL_PATH;
    this.url = base.toString();
    this.sweep = setInterval(() => {
      this.expire();
    }, 500);
    this.sweep.unref();
    this.connect();
  }

  /** Whether commands currently travel over the channel (else over REST). */
  get isOpen(): boolean {
    return this.open;
  }

  call(op: InternalOp, caller: ApiCaller, call: ApiCall = {}): Promise<ApiAnswer> {
    if (!this.open) return this.options.fallback.call(op, caller, call);
    const { claims } = caller.identity;
    const id = this.nextId++;
    const command: InternalCommand = {
      id,
      op,
      actor: {
        sub: claims.sub,
        role: claims.role,
        exp: claims.exp,
        ...(claims.jti === undefined ? {} : { jti: claims.jti }),
        ...(claims.name === undefined ? {} : { name: claims.name }),
        ...(claims.email === undefined ? {} : { email: claims.email }),
      },
      ...(caller.clientIp === undefined ? {} : { client_ip: caller.clientIp }),
      ...(call.target === undefined ? {} : { target: call.target }),
      ...(call.args === undefined ? {} : { args: call.args }),
    };
    return new Promise<ApiAnswer>((resolve) => {
      this.pending.set(id, { resolve, deadline: Date.now() + this.timeoutMs });
      this.outgoing.push(command);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After the I/O phase: commands of every socket that spoke in this tick share one frame.
        setImmediate(() => {
          this.flush();
        });
      }
    });
  }

  /** Answers everything pending with `unavailable` and stops reconnecting. Idempotent. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    clearInterval(this.sweep);
    clearTimeout(this.reconnectTimer);
    this.setOpen(false);
    this.failPending();
    const ws = this.ws;
    this.ws = undefined;
    if (ws === undefined || ws.readyState === ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once("close", () => resolve());
      ws.close(1001, "edge closing");
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1_000).unref();
    });
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.url, { headers: { authorization: `Bearer ${this.options.secret}` }, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    this.ws = ws;
    ws.on("open", () => {
      this.attempt = 0;
      this.setOpen(true);
      this.options.logger.info("internal channel to the API open");
    });
    ws.on("unexpected-response", (_req, res) => {
      // 401: the secrets differ. Commands keep working over REST; the log says why the channel is not used.
      this.options.logger.error({ status: res.statusCode }, "the API refused the internal channel; using REST meanwhile");
      ws.terminate();
    });
    ws.on("message", (data, isBinary) => {
      if (!isBinary) this.receive(frameText(data));
    });
    ws.on("error", (error) => {
      this.options.logger.debug({ err: error }, "internal channel error");
    });
    ws.on("close", () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.open) this.options.logger.warn("internal channel to the API closed; reconnecting");
      this.setOpen(false);
      this.failPending();
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.connect();
    }, ceiling / 2 + Math.random() * (ceiling / 2));
    this.reconnectTimer.unref();
  }

  private setOpen(open: boolean): void {
    if (this.open === open) return;
    this.open = open;
    this.options.onStateChange?.(open);
  }

  private flush(): void {
    this.flushScheduled = false;
    const commands = this.outgoing;
    this.outgoing = [];
    const ws = this.ws;
    if (ws === undefined || !this.open) {
      for (const command of commands) this.settle(command.id, API_UNAVAILABLE);
      return;
    }
    for (let start = 0; start < commands.length; start += MAX_INTERNAL_BATCH) {
      ws.send(JSON.stringify({ type: "commands", commands: commands.slice(start, start + MAX_INTERNAL_BATCH) }));
    }
  }

  private receive(text: string): void {
    const frame = parseJsonWith(internalResponseFrame, text);
    if (frame === undefined) {
      // Answers we cannot read would leave commands hanging: reconnect, and the pending ones fail as unavailable.
      this.options.logger.error("internal channel answer did not parse; reconnecting");
      this.ws?.terminate();
      return;
    }
    for (const result of frame.results) this.settle(result.id, toAnswer(result));
  }

  private settle(id: number, answer: ApiAnswer): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    pending.resolve(answer);
  }

  private failPending(): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.outgoing = [];
    for (const { resolve } of pending) resolve(API_UNAVAILABLE);
  }

  /** Pending commands are in id order, and every deadline is the same length after its start: stop at the first live one. */
  private expire(): void {
    const now = Date.now();
    for (const [id, pending] of this.pending) {
      if (pending.deadline > now) return;
      this.settle(id, API_UNAVAILABLE);
    }
  }
}

function frameText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

function toAnswer(result: InternalResult): ApiAnswer {
  if (result.ok) return { ok: true, status: result.status, body: result.body };
  const { code, message, field, retry_after_ms } = result.error;
  return {
    ok: false,
    status: result.status,
    error: {
      code: isErrorCode(code) ? code : "unavailable",
      message,
      ...(field === undefined ? {} : { field }),
      ...(retry_after_ms === undefined ? {} : { retry_after_ms }),
    },
  };
}
