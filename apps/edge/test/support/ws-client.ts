import { WebSocket } from "ws";

export type Frame = { type: string; id?: string } & Record<string, unknown>;

export interface ConnectOptions {
  readonly token?: string;
  /** Sends the token as ?access_token= instead of the Authorization header. */
  readonly tokenInQuery?: boolean;
  readonly origin?: string;
  /** false: the client ignores the edge's heartbeat pings (a dead peer). */
  readonly autoPong?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A WebSocket client that records every frame, for assertions on what the edge sent. */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private counter = 0;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(frame: Frame) => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      const frame = JSON.parse(data.toString("utf8")) as Frame;
      this.frames.push(frame);
      for (const listener of this.listeners) listener(frame);
      for (const wake of [...this.waiters]) wake();
    });
    ws.on("error", () => undefined);
    this.closed = new Promise((resolve) => {
      ws.once("close", (code, reason) => {
        resolve({ code, reason: reason.toString("utf8") });
      });
    });
  }

  /** Opens a socket (resolves on open, before any frame). */
  static async open(url: string, options: ConnectOptions = {}): Promise<TestClient> {
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
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => {
        resolve();
      });
      ws.once("unexpected-response", (_req, res) => {
        reject(new Error(`handshake answered ${res.statusCode}`));
      });
      ws.once("error", reject);
    });
    return client;
  }

  /** Opens a socket authenticated at the handshake and waits for `connected`. */
  static async connect(url: string, token: string, options: Omit<ConnectOptions, "token"> = {}): Promise<TestClient> {
    const client = await TestClient.open(url, { ...options, token });
    await client.next((frame) => frame.type === "connected");
    return client;
  }

  /** Calls `listener` with every frame from now on. */
  onFrame(listener: (frame: Frame) => void): void {
    this.listeners.add(listener);
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Sends a command with a fresh id and resolves with its answer (`ack`, `error` or `pong`); rejects if the socket closes first. */
  async request(frame: Record<string, unknown>, timeout = 10_000): Promise<Frame> {
    const id = `c${++this.counter}`;
    this.send({ ...frame, id });
    const answer = this.next((candidate) => candidate.id === id && ["ack", "error", "pong"].includes(candidate.type), timeout);
    const closed = this.closed.then(({ code }) => {
      // A close can race the answer that preceded it on the wire.
      const late = this.frames.find((candidate) => candidate.id === id && ["ack", "error", "pong"].includes(candidate.type));
      if (late) return late;
      throw new Error(`socket closed (${code}) before the answer`);
    });
    return Promise.race([answer, closed]);
  }

  /** The first frame received (so far or later) that matches; rejects after `timeout` ms. */
  async next(match: (frame: Frame) => boolean, timeout = 10_000): Promise<Frame> {
    const found = this.frames.find(match);
    if (found) return found;
    return new Promise((resolve, reject) => {
      const wake = () => {
        const frame = this.frames.find(match);
        if (!frame) return;
        done();
        resolve(frame);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching frame within ${timeout} ms (last frames: ${JSON.stringify(this.frames.slice(-3))})`));
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      this.waiters.add(wake);
    });
  }

  of(type: string): Frame[] {
    return this.frames.filter((frame) => frame.type === type);
  }

  async closeAndWait(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }
}

/** The HTTP status that answers an upgrade attempt (101 when it succeeded). */
export async function handshakeStatus(url: string, options: ConnectOptions = {}): Promise<number> {
  try {
    const client = await TestClient.open(url, options);
    client.ws.terminate();
    return 101;
  } catch (error) {
    const match = /handshake answered (\d+)/.exec(error instanceof Error ? error.message : "");
    if (match?.[1] !== undefined) return Number(match[1]);
    throw error;
  }
}
