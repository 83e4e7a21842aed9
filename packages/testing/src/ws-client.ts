import type { IncomingMessage } from "node:http";
import { afterAll, afterEach } from "vitest";
import { WebSocket } from "ws";

export type Frame = { readonly type: string; readonly id?: string } & Readonly<Record<string, unknown>>;

export interface OpenOptions {
  /** Sent as `Authorization: Bearer`, or as `?access_token=` with `tokenInQuery`. */
  readonly token?: string;
  readonly tokenInQuery?: boolean;
  readonly origin?: string;
  /** false: the client ignores the server's heartbeat pings (a dead peer). */
  readonly autoPong?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

/** A refused upgrade: the HTTP answer the server gave instead of 101. */
export interface Refusal {
  readonly status: number;
  readonly body: unknown;
}

export class RefusedUpgrade extends Error {
  constructor(readonly refusal: Refusal) {
    super(`upgrade refused with HTTP ${refusal.status}`);
  }
}

const ANSWERS = new Set(["ack", "error", "pong"]);

/** A WebSocket client that records every frame, as a client application would see them. */
export class WsClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<Closed>;
  private counter = 0;
  private isClosed = false;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(frame: Frame) => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      const frame = JSON.parse(data.toString("utf8")) as Frame;
      this.frames.push(frame);
      for (const listener of this.listeners) listener(frame);
      this.wakeAll();
    });
    ws.on("error", () => undefined);
    this.closed = new Promise((resolve) => {
      ws.once("close", (code, reason) => {
        this.isClosed = true;
        resolve({ code, reason: reason.toString("utf8") });
        this.wakeAll();
      });
    });
  }

  /** Opens a socket; resolves once upgraded (before any frame), rejects with a `RefusedUpgrade` otherwise. */
  static open(url: string, options: OpenOptions = {}): Promise<WsClient> {
    const target = new URL(url);
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) {
      if (options.tokenInQuery === true) target.searchParams.set("access_token", options.token);
      else headers.authorization = `Bearer ${options.token}`;
    }
    const ws = new WebSocket(target, {
      headers,
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      ...(options.autoPong === undefined ? {} : { autoPong: options.autoPong }),
    });
    const client = new WsClient(ws);
    return new Promise((resolve, reject) => {
      ws.once("open", () => {
        resolve(client);
      });
      ws.once("unexpected-response", (_req, res: IncomingMessage) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
        res.on("end", () => {
          reject(new RefusedUpgrade({ status: res.statusCode ?? 0, body: parsedOrText(text) }));
          ws.terminate();
        });
      });
      ws.once("error", reject);
    });
  }

  /** Opens a socket authenticated at the handshake and waits for `connected`. */
  static async connect(url: string, token: string, options: Omit<OpenOptions, "token"> = {}): Promise<WsClient> {
    const client = await WsClient.open(url, { ...options, token });
    await client.next((frame) => frame.type === "connected");
    return client;
  }

  /** Calls `listener` with every frame from now on. */
  onFrame(listener: (frame: Frame) => void): void {
    this.listeners.add(listener);
  }

  send(frame: Readonly<Record<string, unknown>>): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Sends a command with a fresh `id`; resolves with the frame answering it (`ack`, `error` or `pong`). */
  request(frame: Readonly<Record<string, unknown>>, timeout = 10_000): Promise<Frame> {
    const id = `c${++this.counter}`;
    this.send({ ...frame, id });
    return this.next((candidate) => candidate.id === id && ANSWERS.has(candidate.type), timeout);
  }

  /** The first frame (received so far or later) that matches; rejects after `timeout` ms or when the socket closed without one. */
  next(match: (frame: Frame) => boolean, timeout = 10_000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const frame = this.frames.find(match);
        if (frame) {
          done();
          resolve(frame);
        } else if (this.isClosed) {
          done();
          reject(new Error(`socket closed without a matching frame (last frames: ${this.lastFrames()})`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching frame within ${timeout} ms (last frames: ${this.lastFrames()})`));
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  of(type: string): Frame[] {
    return this.frames.filter((frame) => frame.type === type);
  }

  /** Frames carrying a stream position (the user's events). */
  events(): Frame[] {
    return this.frames.filter((frame) => typeof frame.pos === "string" && frame.type !== "connected");
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private lastFrames(): string {
    return JSON.stringify(this.frames.slice(-3));
  }
}

/** The sockets a test file opened, ended together after each test or when the file ends. */
export class OpenSockets {
  private sockets: WsClient[] = [];

  /** Every socket opened (and not yet ended), oldest first. */
  get all(): readonly WsClient[] {
    return this.sockets;
  }

  track(client: WsClient): WsClient {
    this.sockets.push(client);
    return client;
  }

  /** Opens a socket authenticated at the handshake, waits for `connected`, and remembers it. */
  async connect(url: string, token: string, options: Omit<OpenOptions, "token"> = {}): Promise<WsClient> {
    return this.track(await WsClient.connect(url, token, options));
  }

  /** Drops every socket at once (no close handshake) and forgets them. */
  terminateAll(): void {
    for (const client of this.sockets) client.ws.terminate();
    this.sockets = [];
  }

  /** Closes every socket with a close handshake and forgets them. */
  async closeAll(): Promise<void> {
    const closing = this.sockets.map((client) => client.close());
    this.sockets = [];
    await Promise.allSettled(closing);
  }
}

/** The sockets the calling test file opens, dropped after each of its tests (registers the vitest hooks that do it). */
export function socketsPerTest(): OpenSockets {
  const sockets = new OpenSockets();
  afterEach(() => {
    sockets.terminateAll();
  });
  afterAll(() => {
    sockets.terminateAll();
  });
  return sockets;
}

function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** How the server answers an upgrade attempt: the refusal, or undefined when it upgraded (the socket is closed again). */
export async function refusalOf(url: string, options: OpenOptions = {}): Promise<Refusal | undefined> {
  try {
    const client = await WsClient.open(url, options);
    client.ws.terminate();
    return undefined;
  } catch (error) {
    if (error instanceof RefusedUpgrade) return error.refusal;
    throw error;
  }
}

/** The HTTP status that answers an upgrade attempt (101 when it upgraded). */
export async function handshakeStatus(url: string, options: OpenOptions = {}): Promise<number> {
  return (await refusalOf(url, options))?.status ?? 101;
}
