import type { TestUser } from "./cluster";
import { WsClient, type Frame } from "@parley/testing/ws-client";

/** Connects to the first edge that accepts, retrying briefly (as an SDK's reconnect with backoff would). */
async function connectSomewhere(urls: () => readonly string[], token: string, deadlineMs = 10_000): Promise<WsClient> {
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    for (const url of urls()) {
      try {
        return await WsClient.connect(url, token);
      } catch (error) {
        lastError = error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 300)));
  }
  throw new Error(`no edge accepted the connection: ${String(lastError)}`);
}

/**
 * A receiving client that behaves like the SDK: remembers the last `pos`, and after any close reconnects to
 * another edge and sends `resume {since}` as its first frame.
 */
export class ResumingReceiver {
  readonly messages: Frame[] = [];
  readonly closeCodes: number[] = [];
  readonly reconnectFrames: Frame[] = [];
  private lastPos: string | undefined;
  private client: WsClient | undefined;
  private stopped = false;
  private failure: Error | undefined;

  constructor(
    private readonly user: TestUser,
    private readonly conversationId: string,
    private readonly urls: () => readonly string[],
  ) {}

  async start(): Promise<void> {
    await this.attach(await connectSomewhere(this.urls, this.user.token), false);
  }

  private async attach(client: WsClient, resume: boolean): Promise<void> {
    this.client = client;
    const connected = client.frames.find((frame) => frame.type === "connected");
    this.lastPos ??= connected?.pos as string | undefined;
    client.onFrame((frame) => {
      this.record(frame);
    });
    for (const frame of client.frames) if (frame.type !== "connected") this.record(frame);
    if (resume && this.lastPos !== undefined) {
      const answer = await client.request({ type: "resume", since: this.lastPos }).catch((error: unknown) => ({ type: "closed", error }));
      if (answer.type === "error") this.failure = new Error(`resume failed: ${JSON.stringify(answer)}`);
    }
    void client.closed.then(async ({ code }) => {
      this.closeCodes.push(code);
      if (this.stopped) return;
      try {
        await this.attach(await connectSomewhere(this.urls, this.user.token), true);
      } catch (error) {
        this.failure = error instanceof Error ? error : new Error(String(error));
      }
    });
  }

  private record(frame: Frame): void {
    if (typeof frame.pos === "string" && frame.type !== "connected") this.lastPos = frame.pos;
    if (frame.type === "reconnect") this.reconnectFrames.push(frame);
    if (frame.type === "new_message" && frame.conversation_id === this.conversationId) this.messages.push(frame);
  }

  seqs(): number[] {
    if (this.failure !== undefined) throw this.failure;
    return this.messages.map((frame) => (frame.message as { seq: number }).seq);
  }

  stop(): void {
    this.stopped = true;
    this.client?.ws.terminate();
  }
}

/** A client sending a continuous stream of messages; an unanswered send is retried with the same client_msg_id after a reconnect. */
export class StreamingSender {
  readonly closeCodes: number[] = [];
  acked = 0;
  private client: WsClient | undefined;
  private stopped = false;

  constructor(
    private readonly user: TestUser,
    private readonly conversationId: string,
    private readonly urls: () => readonly string[],
  ) {}

  async run(count: number, onAck?: (acked: number) => void): Promise<void> {
    for (let i = 1; i <= count && !this.stopped; i++) {
      for (;;) {
        this.client ??= await this.connect();
        try {
          const answer = await this.client.request({ type: "send_message", conversation_id: this.conversationId, client_msg_id: `stream-${i}`, content: `message ${i}` });
          if (answer.type !== "ack") throw new Error(`send ${i} refused: ${JSON.stringify(answer)}`);
          break;
        } catch (error) {
          if (this.client.ws.readyState === this.client.ws.OPEN) throw error;
          this.client = undefined; // closed under us: reconnect and resend the same client_msg_id
        }
      }
      this.acked = i;
      onAck?.(i);
    }
  }

  private async connect(): Promise<WsClient> {
    const client = await connectSomewhere(this.urls, this.user.token);
    void client.closed.then(({ code }) => this.closeCodes.push(code));
    return client;
  }

  stop(): void {
    this.stopped = true;
    this.client?.ws.terminate();
  }
}
