import type { WebSocketLike } from "../../src/websocket";

type Frame = Record<string, unknown> & { type: string; id?: string };

/** A WebSocket the test drives: it records what the client writes and delivers what the test says the server sent. */
export class FakeSocket implements WebSocketLike {
  static readonly all: FakeSocket[] = [];
  readyState = 0;
  readonly sent: Frame[] = [];
  closedWith: number | undefined;
  onopen: ((event: never) => unknown) | null = null;
  onmessage: ((event: never) => unknown) | null = null;
  onclose: ((event: never) => unknown) | null = null;
  onerror: ((event: never) => unknown) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  static latest(): FakeSocket {
    const socket = FakeSocket.all.at(-1);
    if (socket === undefined) throw new Error("no socket was opened");
    return socket;
  }

  static reset(): void {
    FakeSocket.all.length = 0;
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(data) as Frame);
  }

  close(code?: number): void {
    this.closedWith = code ?? 1000;
    this.readyState = 3;
  }

  /** The server accepted the connection. */
  open(): void {
    this.readyState = 1;
    (this.onopen as ((event: unknown) => void) | null)?.({});
  }

  /** The server wrote a frame. */
  receive(frame: Record<string, unknown>): void {
    (this.onmessage as ((event: { data: unknown }) => void) | null)?.({ data: JSON.stringify(frame) });
  }

  /** Opens and answers the auth frame with `connected`. */
  accept(options: { userId?: string; pos?: string; node?: string } = {}): void {
    this.open();
    this.receive({ type: "connected", user_id: options.userId ?? "u-me", connection_id: `c-${FakeSocket.all.length}`, node: options.node ?? "edge-1", heartbeat_ms: 30_000, pos: options.pos ?? "100-0" });
  }

  /** The server (or the network) closed the socket. */
  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    (this.onclose as ((event: { code: number; reason: string }) => void) | null)?.({ code, reason });
  }

  /** Frames of one type the client wrote. */
  of(type: string): Frame[] {
    return this.sent.filter((frame) => frame.type === type);
  }

  /** Answers the client's last frame of `type` with an ack. */
  ack(type: string, data: Record<string, unknown>, index = -1): void {
    const frame = this.of(type).at(index);
    if (frame?.id === undefined) throw new Error(`no ${type} frame with an id was sent`);
    this.receive({ type: "ack", id: frame.id, data });
  }

  fail(type: string, code: string, extra: Record<string, unknown> = {}, index = -1): void {
    const frame = this.of(type).at(index);
    if (frame?.id === undefined) throw new Error(`no ${type} frame with an id was sent`);
    this.receive({ type: "error", id: frame.id, code, message: code, ...extra });
  }
}
