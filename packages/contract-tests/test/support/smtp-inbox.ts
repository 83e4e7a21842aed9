import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

/** A mail as delivered: the envelope recipient and the parsed message. */
export interface ReceivedMail {
  readonly to: string;
  readonly mail: ParsedMail;
}

/** A real SMTP server in the test process, standing in for the SMTP catcher the worker sends to. */
export class SmtpInbox {
  readonly received: ReceivedMail[] = [];
  private readonly server: SMTPServer;
  private port = 0;
  private closing: Promise<void> | undefined;

  private constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      hideSTARTTLS: true,
      logger: false,
      closeTimeout: 500,
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

  to(address: string): ParsedMail[] {
    return this.received.filter((entry) => entry.to === address.toLowerCase()).map((entry) => entry.mail);
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
