import type { IncomingMessage } from "node:http";
import { WebSocket } from "ws";

export type Frame = { readonly type: string; readonly id?: string } & Readonly<Record<string, unknown>>;

export interface OpenOptions {
  /** Sent as `Authorization: Bearer`. */
  readonly header?: string;
  /** Sent as `?access_token=`. */
  readonly query?: string;
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

/** A WebSocket client that records every frame, as a client application would see them. */
export class WsClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<Closed>;
  private counter = 0;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      this.frames.push(JSON.parse(data.toString("utf8")) as Frame);
      for (const wake of [...this.waiters]) wake();
    });
    ws.on("error", () => undefined);
    this.closed = new Promise((resolve) => {
      ws.once("close", (code, reason) => {
        resolve({ code, reason: reason.toString("utf8") });
        for (const wake of [...this.waiters]) wake();
      });
    });
  }

  /** Opens a socket; resolves once upgraded (before any frame), rejects with the refusal otherwise. */
  static open(url: string, options: OpenOptions = {}): Promise<WsClient> {
    const target = new URL(url);
    if (options.query !== undefined) target.searchParams.set("access_token", options.query);
    const ws = new WebSocket(target, { headers: options.header === undefined ? {} : { authorization: `Bearer ${options.header}` } });
    const client = new WsClient(ws);
    return new Promise((resolve, reject) => {
      ws.once("open", () => {
        resolve(client);
      });
      ws.once("unexpected-response", (_req, res: IncomingMessage) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
        res.on("end", () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: kept as text
          }
          reject(new RefusedUpgrade({ status: res.statusCode ?? 0, body }));
          ws.terminate();
        });
      });
      ws.once("error", reject);
    });
  }

  /** Opens a socket authenticated with the header and waits for `connected`. */
  static async connect(url: string, token: string): Promise<WsClient> {
    const client = await WsClient.open(url, { header: token });
    await client.next((frame) => frame.type === "connected");
    return client;
  }

  send(frame: Readonly<Record<string, unknown>>): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Sends a command with a fresh `id`; resolves with the frame answering it (`ack`, `error` or `pong`). */
  async command(frame: Readonly<Record<string, unknown>>, timeout = 10_000): Promise<Frame> {
    const id = `cmd-${++this.counter}`;
    this.send({ ...frame, id });
    return this.next((candidate) => candidate.id === id && ["ack", "error", "pong"].includes(candidate.type), timeout);
  }

  /** The first frame (received so far or later) that matches; rejects after `timeout` ms or when the socket closed without one. */
  next(match: (frame: Frame) => boolean, timeout = 10_000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      let closed = false;
      void this.closed.then(() => (closed = true));
      const check = () => {
        const frame = this.frames.find(match);
        if (frame) {
          done();
          resolve(frame);
        } else if (closed || this.ws.readyState === WebSocket.CLOSED) {
          done();
          reject(new Error(`socket closed without a matching frame (last frames: ${JSON.stringify(this.frames.slice(-3))})`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching frame within ${timeout} ms (last frames: ${JSON.stringify(this.frames.slice(-3))})`));
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
}

export class RefusedUpgrade extends Error {
  constructor(readonly refusal: Refusal) {
    super(`upgrade refused with HTTP ${refusal.status}`);
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
