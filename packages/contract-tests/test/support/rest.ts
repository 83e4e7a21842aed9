import { randomBytes } from "node:crypto";
import type { z } from "zod";
import { authAnswer } from "./contract";

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed JSON body; undefined when empty. */
  readonly body: unknown;
}

export interface CallOptions {
  readonly token?: string;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Sent as it is, with content-type application/json. */
  readonly rawBody?: string;
  readonly query?: Readonly<Record<string, string | number | boolean>>;
}

export interface User {
  readonly id: string;
  readonly username: string;
  readonly password: string;
  readonly token: string;
}

/** A REST client of one node, speaking only HTTP and JSON. */
export class Rest {
  private users = 0;

  /** A URL, or a function giving it once the server is up (clients made before a file's beforeAll ran). */
  constructor(private readonly base: string | (() => string)) {}

  get baseUrl(): string {
    return typeof this.base === "string" ? this.base : this.base();
  }

  async call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
    const url = new URL(path, this.baseUrl);
    for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, String(value));
    const headers: Record<string, string> = { accept: "application/json" };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: response.status, headers: response.headers, body: parsed };
  }

  get(path: string, token?: string, query?: CallOptions["query"]): Promise<Reply> {
    return this.call("GET", path, { ...(token === undefined ? {} : { token }), ...(query === undefined ? {} : { query }) });
  }

  post(path: string, token: string | undefined, body?: unknown): Promise<Reply> {
    return this.call("POST", path, { ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) });
  }

  patch(path: string, token: string, body: unknown): Promise<Reply> {
    return this.call("PATCH", path, { token, body });
  }

  delete(path: string, token: string, body?: unknown): Promise<Reply> {
    return this.call("DELETE", path, { token, ...(body === undefined ? {} : { body }) });
  }

  /** Registers a fresh user through the public endpoint. */
  async register(extra: { email?: string; role?: string } = {}): Promise<User> {
    const username = `u${++this.users}_${randomBytes(4).toString("hex")}`;
    const password = "correct horse battery staple";
    const reply = await this.post("/v1/auth/register", undefined, { username, password, display_name: `User ${username}`, role: extra.role ?? "user", ...(extra.email === undefined ? {} : { email: extra.email }) });
    if (reply.status !== 201) throw new Error(`register answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    const answer = authAnswer.parse(reply.body);
    return { id: answer.user.id, username, password, token: answer.access_token };
  }

  /** Opens (or finds) the direct conversation of `a` with `b`; its id. */
  async direct(a: User, b: User): Promise<string> {
    const reply = await this.post("/v1/conversations", a.token, { type: "direct", participant_ids: [b.id] });
    return expectId(reply, [200, 201]);
  }

  async group(owner: User, members: readonly User[], title = "A group"): Promise<string> {
    const reply = await this.post("/v1/conversations", owner.token, { type: "group", title, participant_ids: members.map((m) => m.id) });
    return expectId(reply, [201]);
  }

  /** Sends a text message over REST; the stored message's id and seq. */
  async send(sender: User, conversationId: string, content: string, clientMsgId = `c-${randomBytes(6).toString("hex")}`): Promise<{ id: string; seq: number }> {
    const reply = await this.post(`/v1/conversations/${conversationId}/messages`, sender.token, { client_msg_id: clientMsgId, content });
    if (reply.status !== 201) throw new Error(`send answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    const { id, seq } = reply.body as { id: string; seq: number };
    return { id, seq };
  }
}

function expectId(reply: Reply, statuses: readonly number[]): string {
  if (!statuses.includes(reply.status)) throw new Error(`answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  return (reply.body as { id: string }).id;
}

/**
 * Checks a body (or frame) against a contract schema, failing with the body in the message. Returns the body itself,
 * not a parsed copy: fields the contract does not name stay visible, and frames keep their identity.
 */
export function shape<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (!result.success) throw new Error(`body does not match the contract: ${result.error.message}\n${JSON.stringify(body)}`);
  return body as z.output<S>;
}
