import type { Message } from "@parley/protocol";

export const CONVERSATION = "0192f5a4-7c1e-7cc2-9a55-1f1a2b3c4d5e";
export const OTHER_CONVERSATION = "0192f5a4-7c1e-7cc2-9a55-1f1a2b3c4d60";

/** A stored message of `conversation` with `seq`, sent by `sender`. */
export function message(seq: number, options: { conversation?: string; sender?: string; content?: string } = {}): Message {
  const conversationId = options.conversation ?? CONVERSATION;
  return {
    id: `0192f5a4-7c1e-7cc2-9a55-${conversationId.slice(-4)}${String(seq).padStart(8, "0")}`,
    conversation_id: conversationId,
    seq,
    sender_id: options.sender ?? "u-other",
    type: "text",
    content: options.content ?? `message ${seq}`,
    reply_to: null,
    attachments: [],
    created_at: new Date(1_800_000_000_000 + seq).toISOString(),
    edited_at: null,
    deleted: false,
  };
}

/** A conversation as the API lists it: direct, empty, created at the epoch by `u-me`. */
export function conversationRecord(id: string) {
  return {
    id,
    type: "direct",
    title: null,
    created_by: "u-me",
    created_at: new Date(0).toISOString(),
    last_activity_at: new Date(0).toISOString(),
    last_seq: 0,
    last_message: null,
    unread_count: 0,
    muted: false,
    archived: false,
    archived_at: null,
    closed: false,
  };
}

/** A JWT-shaped token whose payload carries `exp` (seconds); the signature is not checked client-side. */
export function tokenExpiringAt(expMs: number, n = 0): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ sub: "u-me", exp: Math.floor(expMs / 1000), n })}.signature`;
}

interface FakeRoute {
  readonly method: string;
  readonly path: RegExp;
  readonly answer: (url: URL, body: unknown) => { status: number; body?: unknown };
}

/** A fetch that answers from routes and records every call. */
export class FakeApi {
  readonly calls: { method: string; url: URL; body: unknown }[] = [];
  private readonly routes: FakeRoute[] = [];

  on(method: string, path: RegExp, answer: FakeRoute["answer"]): this {
    this.routes.push({ method, path, answer });
    return this;
  }

  readonly fetch = (input: string, init: { method: string; body?: string }) => {
    const url = new URL(input);
    const body: unknown = init.body === undefined ? undefined : JSON.parse(init.body);
    this.calls.push({ method: init.method, url, body });
    const route = this.routes.find((candidate) => candidate.method === init.method && candidate.path.test(url.pathname));
    const answer = route?.answer(url, body) ?? { status: 404, body: { error: { code: "not_found", message: "no route" } } };
    return Promise.resolve({
      status: answer.status,
      headers: { get: () => null },
      text: () => Promise.resolve(answer.body === undefined ? "" : JSON.stringify(answer.body)),
    });
  };
}
