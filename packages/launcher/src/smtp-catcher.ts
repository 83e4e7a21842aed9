import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressObject } from "mailparser";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import type { SMTPServerDataStream, SMTPServerSession } from "smtp-server";
import { isAddressInUse, listenOn } from "./ports";

/** One caught e-mail as served by `GET /api/messages`. */
export interface CaughtMessage {
  readonly id: string;
  /** The `From:` header as written, e.g. `Parley <no-reply@parley.local>`. */
  readonly from: string;
  /** Envelope recipients (RCPT TO), so Bcc recipients are listed too. */
  readonly to: readonly string[];
  readonly subject: string;
  /** ISO 8601: the `Date:` header, or the time it was received when the header is missing. */
  readonly date: string;
  readonly text: string;
  readonly html: string | null;
  /** The `Message-ID:` header, or null without one: a mail delivered twice under one id is one mail to a reader. */
  readonly messageId: string | null;
}

export interface SmtpCatcherOptions {
  readonly host?: string;
  /** Default 1025. */
  readonly smtpPort?: number;
  /** Default 8025. */
  readonly httpPort?: number;
  /** Fail when a port is taken instead of using a free one. Default false. */
  readonly strictPorts?: boolean;
  /** How many messages are kept; older ones are forgotten. Default 200. */
  readonly capacity?: number;
  /** A mail that could not be parsed, a broken connection: reported, never thrown. */
  readonly onError?: (error: Error) => void;
  readonly clock?: () => Date;
  readonly newId?: () => string;
}

const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

/** An SMTP server for local development that keeps the last mails in memory and shows them over HTTP. */
export class SmtpCatcher {
  private readonly host: string;
  private readonly capacity: number;
  private readonly clock: () => Date;
  private readonly newId: () => string;
  private readonly onError: (error: Error) => void;
  private readonly smtp: SMTPServer;
  private readonly http: http.Server;
  /** Newest first. */
  private inbox: CaughtMessage[] = [];
  private ports: { smtp: number; http: number } | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: SmtpCatcherOptions = {}) {
    this.host = options.host ?? "127.0.0.1";
    this.capacity = options.capacity ?? 200;
    this.clock = options.clock ?? (() => new Date());
    this.newId = options.newId ?? randomUUID;
    this.onError = options.onError ?? (() => undefined);
    this.smtp = new SMTPServer({
      authOptional: true,
      // Any credentials are accepted, so an SMTP_URL with a user and password also works against the catcher.
      allowInsecureAuth: true,
      onAuth: (auth, _session, callback) => callback(null, { user: auth.username ?? "anonymous" }),
      // No certificate here: offering STARTTLS would make clients try (and fail) to upgrade.
      disabledCommands: ["STARTTLS"],
      hideSTARTTLS: true,
      size: MAX_MESSAGE_BYTES,
      banner: "Parley SMTP catcher",
      logger: false,
      closeTimeout: 1_000,
      onData: (stream, session, callback) => {
        this.receive(stream, session).then(
          () => callback(),
          (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
        );
      },
    });
    this.smtp.on("error", (error: Error) => this.onError(error));
    this.http = http.createServer((request, response) => this.serve(request, response));
  }

  /** Binds both servers; returns their URLs. */
  async start(): Promise<{ smtpUrl: string; httpUrl: string }> {
    if (this.ports) return { smtpUrl: this.smtpUrl, httpUrl: this.httpUrl };
    const smtp = await this.bind(this.smtp.server, this.options.smtpPort ?? 1025);
    try {
      const web = await this.bind(this.http, this.options.httpPort ?? 8025);
      this.ports = { smtp, http: web };
    } catch (error) {
      await new Promise<void>((resolve) => this.smtp.close(() => resolve()));
      throw error;
    }
    return { smtpUrl: this.smtpUrl, httpUrl: this.httpUrl };
  }

  /** What SMTP_URL should be for senders: `smtp://127.0.0.1:1025`. */
  get smtpUrl(): string {
    return `smtp://${this.host}:${this.started().smtp}`;
  }

  /** The inbox in a browser; the JSON API is under `/api/messages`. */
  get httpUrl(): string {
    return `http://${this.host}:${this.started().http}`;
  }

  /** The caught messages, newest first. */
  messages(): readonly CaughtMessage[] {
    return this.inbox;
  }

  clear(): void {
    this.inbox = [];
  }

  /** Stops both servers, dropping open connections. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= Promise.all([
      new Promise<void>((resolve) => this.smtp.close(() => resolve())),
      new Promise<void>((resolve) => {
        this.http.close(() => resolve());
        this.http.closeAllConnections();
      }),
    ]).then(() => undefined);
    return this.closing;
  }

  private started(): { smtp: number; http: number } {
    if (!this.ports) throw new Error("the SMTP catcher is not started");
    return this.ports;
  }

  private async bind(server: http.Server | SMTPServer["server"], port: number): Promise<number> {
    try {
      return await listenOn(server, port, this.host);
    } catch (error) {
      if (this.options.strictPorts || !isAddressInUse(error)) throw error;
      return listenOn(server, 0, this.host);
    }
  }

  private async receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<void> {
    const parsed = await simpleParser(stream);
    if (stream.sizeExceeded) throw new Error(`message larger than ${MAX_MESSAGE_BYTES} bytes`);
    const message: CaughtMessage = {
      id: this.newId(),
      from: parsed.from ? formatAddresses(parsed.from) : session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
      to: session.envelope.rcptTo.length > 0 ? session.envelope.rcptTo.map((rcpt) => rcpt.address) : addresses(parsed.to),
      subject: parsed.subject ?? "",
      date: (parsed.date ?? this.clock()).toISOString(),
      text: parsed.text ?? "",
      html: typeof parsed.html === "string" ? parsed.html : null,
      messageId: parsed.messageId ?? null,
    };
    this.inbox = [message, ...this.inbox].slice(0, this.capacity);
  }

  private serve(request: http.IncomingMessage, response: http.ServerResponse): void {
    const path = new URL(request.url ?? "/", "http://catcher").pathname;
    const method = request.method ?? "GET";
    if (path === "/" && method === "GET") {
      send(response, 200, "text/html; charset=utf-8", renderInbox(this.inbox));
    } else if (path === "/api/messages" && method === "GET") {
      sendJson(response, 200, this.inbox);
    } else if (path === "/api/messages" && method === "DELETE") {
      this.clear();
      response.writeHead(204).end();
    } else if (path.startsWith("/api/messages/") && method === "GET") {
      const id = decodeURIComponent(path.slice("/api/messages/".length));
      const message = this.inbox.find((candidate) => candidate.id === id);
      if (message) sendJson(response, 200, message);
      else sendJson(response, 404, { error: "not_found", message: "no such message" });
    } else if (path === "/" || path.startsWith("/api/messages")) {
      sendJson(response, 405, { error: "method_not_allowed", message: `${method} is not allowed here` });
    } else {
      sendJson(response, 404, { error: "not_found", message: "no such page" });
    }
  }
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const list = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return list.flatMap((object) => object.value.flatMap((entry) => (entry.address ? [entry.address] : [])));
}

/** `Parley <no-reply@parley.local>`, without the quotes mailparser's own `text` puts around names. */
function formatAddresses(field: AddressObject): string {
  return field.value.map((entry) => (entry.name ? `${entry.name} <${entry.address ?? ""}>` : (entry.address ?? ""))).join(", ");
}

function send(response: http.ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    // Mail bodies are shown in sandboxed frames; nothing on the page may run scripts or load remote content.
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'",
  });
  response.end(body);
}

function sendJson(response: http.ServerResponse, status: number, value: unknown): void {
  send(response, status, "application/json; charset=utf-8", JSON.stringify(value));
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

function renderInbox(messages: readonly CaughtMessage[]): string {
  const items = messages
    .map(
      (message) => `<li><details>
<summary><time>${escapeHtml(message.date)}</time> <b>${escapeHtml(message.subject || "(no subject)")}</b>
from ${escapeHtml(message.from)} to ${escapeHtml(message.to.join(", "))}</summary>
<p><a href="/api/messages/${encodeURIComponent(message.id)}">JSON</a></p>
<pre>${escapeHtml(message.text)}</pre>
${message.html === null ? "" : `<iframe sandbox title="HTML part" srcdoc="${escapeHtml(message.html)}"></iframe>`}
</details></li>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Parley SMTP catcher (${messages.length})</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem}li{margin:.5rem 0}pre{white-space:pre-wrap;background:#f4f4f4;padding:.5rem}iframe{width:100%;height:20rem;border:1px solid #ccc}</style>
</head><body>
<h1>Caught e-mail (${messages.length})</h1>
${messages.length === 0 ? "<p>No e-mail yet.</p>" : `<ol>\n${items}\n</ol>`}
</body></html>
`;
}
