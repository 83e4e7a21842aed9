import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

/** A mail as the test SMTP server received it: the envelope recipient (lower-cased) and the parsed message. */
export interface ReceivedMail {
  readonly to: string;
  readonly mail: ParsedMail;
}

/** A real SMTP server in the test process, standing in for the relay the worker sends to; it can refuse the next few mails. */
export class SmtpInbox {
  readonly received: ReceivedMail[] = [];
  /** How many delivery attempts were refused. */
  refusedCount = 0;
  private refusals = 0;
  private closing: Promise<void> | undefined;
  private readonly server: SMTPServer;
  private port = 0;

  private constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      hideSTARTTLS: true,
      logger: false,
      closeTimeout: 500,
      onRcptTo: (_address, _session, callback) => {
        if (this.refusals > 0) {
          this.refusals--;
          this.refusedCount++;
          callback(Object.assign(new Error("Mailbox busy, try again later"), { responseCode: 451 }));
          return;
        }
        callback();
      },
      onData: (stream, session, callback) => {
        simpleParser(stream).then(
          (mail) => {
            for (const rcpt of session.envelope.rcptTo) this.received.push({ to: rcpt.address.toLowerCase(), mail });
            callback();
          },
          (error: unknown) => {
            callback(error instanceof Error ? error : new Error(String(error)));
          },
        );
      },
    });
  }

  static async start(): Promise<SmtpInbox> {
    const inbox = new SmtpInbox();
    await new Promise<void>((resolve, reject) => {
      inbox.server.server.once("error", reject);
      inbox.server.listen(0, "127.0.0.1", () => {
        resolve();
      });
    });
    inbox.port = (inbox.server.server.address() as AddressInfo).port;
    return inbox;
  }

  /** SMTP_URL for the worker. */
  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Mails delivered to this address. */
  to(address: string): ParsedMail[] {
    const wanted = address.toLowerCase();
    return this.received.filter((entry) => entry.to === wanted).map((entry) => entry.mail);
  }

  /** Refuses the next `count` recipients with 451 (a temporary failure: the sender retries). */
  refuseNext(count: number): void {
    this.refusals = count;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
    return this.closing;
  }
}
