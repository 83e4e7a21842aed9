/**
 * One simulated user per instance, in the protocol of each target. Every client reports the content of each
 * message delivered to it; the load generator decodes which message it was and when it was sent.
 */
import { io, type Socket } from "socket.io-client";
import { WebSocket } from "ws";
import { z } from "zod";
import type { ClientSpec, ProtocolKind } from "./workload";

export interface ClientEvents {
  onDelivery(content: string): void;
  /** A send was refused (error answer instead of an ack). */
  onSendError(code: string): void;
  /** The target closed the connection. */
  onClosed(): void;
}

export interface BenchClient {
  /** Resolves once connected and authenticated (Parley: the `connected` frame). */
  connect(): Promise<void>;
  send(conversationId: string, clientMsgId: string, content: string): void;
  close(): void;
}

const CONNECT_TIMEOUT_MS = 30_000;

// Parley's frames, only the fields the generator needs (zod strips the rest).
const parleyFrame = z.discriminatedUnion("type", [
  z.object({ type: z.literal("connected") }),
  z.object({ type: z.literal("new_message"), message: z.object({ content: z.string().nullable() }) }),
  z.object({ type: z.literal("error"), id: z.string().optional(), code: z.string() }),
]);
/** The frames the generator reads; every other one (acks, unread counts, receipts) is skipped before JSON.parse. */
const WANTED_FRAME = /"type"\s*:\s*"(?:connected|new_message|error)"/;

/** What every protocol's client holds: its socket once connecting, and whether the close was ours. */
abstract class SocketClient<S> implements BenchClient {
  protected socket: S | undefined;
  protected closedByUs = false;

  constructor(
    protected readonly spec: ClientSpec,
    protected readonly events: ClientEvents,
  ) {}

  abstract connect(): Promise<void>;
  abstract send(conversationId: string, clientMsgId: string, content: string): void;
  /** Drops the connection at once. */
  protected abstract drop(socket: S): void;

  close(): void {
    this.closedByUs = true;
    if (this.socket !== undefined) this.drop(this.socket);
  }
}

class ParleyClient extends SocketClient<WebSocket> {
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.spec.url, { headers: { authorization: `Bearer ${this.spec.token}` }, perMessageDeflate: false });
      this.socket = socket;
      let settled = false;
      const timer = setTimeout(() => fail(new Error("no `connected` frame in time")), CONNECT_TIMEOUT_MS);
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.terminate();
        reject(error);
      };
      socket.on("unexpected-response", (_request, response) => fail(new Error(`handshake answered ${response.statusCode ?? "?"}`)));
      socket.on("error", (error) => fail(error));
      socket.on("close", (code) => {
        if (!settled) fail(new Error(`closed ${code} before connected`));
        else if (!this.closedByUs) this.events.onClosed();
      });
      socket.on("message", (data: Buffer) => {
        const text = data.toString("utf8");
        if (!WANTED_FRAME.test(text)) return;
        const parsed = parleyFrame.safeParse(JSON.parse(text));
        // A nested "type" matched (e.g. inside a message): not a frame the generator reads.
        if (!parsed.success) return;
        const frame = parsed.data;
        switch (frame.type) {
          case "connected":
            settled = true;
            clearTimeout(timer);
            resolve();
            break;
          case "new_message":
            if (frame.message.content !== null) this.events.onDelivery(frame.message.content);
            break;
          case "error":
            if (frame.id !== undefined) this.events.onSendError(frame.code);
            break;
        }
      });
    });
  }

  send(conversationId: string, clientMsgId: string, content: string): void {
    this.socket?.send(JSON.stringify({ type: "send_message", id: clientMsgId, conversation_id: conversationId, client_msg_id: clientMsgId, content }));
  }

  protected drop(socket: WebSocket): void {
    socket.terminate();
  }
}

const referenceMessage = z.object({ content: z.string() });
const referenceAck = z.union([z.object({ ok: z.literal(true) }), z.object({ ok: z.literal(false), error: z.string() })]);

class SocketIoClient extends SocketClient<Socket> {
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = io(this.spec.url, {
        transports: ["websocket"],
        auth: { token: this.spec.token },
        reconnection: false,
        forceNew: true,
        timeout: CONNECT_TIMEOUT_MS,
      });
      this.socket = socket;
      socket.once("connect", () => resolve());
      socket.once("connect_error", (error) => {
        socket.close();
        reject(error);
      });
      socket.on("disconnect", () => {
        if (!this.closedByUs) this.events.onClosed();
      });
      socket.on("message", (payload: unknown) => {
        const parsed = referenceMessage.safeParse(payload);
        if (parsed.success) this.events.onDelivery(parsed.data.content);
      });
    });
  }

  send(conversationId: string, _clientMsgId: string, content: string): void {
    this.socket?.emit("send", { room: conversationId, content }, (answer: unknown) => {
      const parsed = referenceAck.safeParse(answer);
      if (!parsed.success) this.events.onSendError("bad_ack");
      else if (!parsed.data.ok) this.events.onSendError(parsed.data.error);
    });
  }

  protected drop(socket: Socket): void {
    socket.close();
  }
}

class RelayClient extends SocketClient<WebSocket> {
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.spec.url, { perMessageDeflate: false });
      this.socket = socket;
      let settled = false;
      socket.once("open", () => {
        settled = true;
        resolve();
      });
      socket.on("error", (error) => {
        if (!settled) reject(error);
      });
      socket.on("close", () => {
        if (settled && !this.closedByUs) this.events.onClosed();
      });
      socket.on("message", (data: Buffer) => this.events.onDelivery(data.toString("utf8")));
    });
  }

  send(_conversationId: string, _clientMsgId: string, content: string): void {
    this.socket?.send(content);
  }

  protected drop(socket: WebSocket): void {
    socket.terminate();
  }
}

export function createClient(kind: ProtocolKind, spec: ClientSpec, events: ClientEvents): BenchClient {
  switch (kind) {
    case "parley":
      return new ParleyClient(spec, events);
    case "socketio":
      return new SocketIoClient(spec, events);
    case "relay":
      return new RelayClient(spec, events);
  }
}
