import nodemailer from "nodemailer";
import type { Transporter } from "nodemailer";
import type SMTPPool from "nodemailer/lib/smtp-pool";

/** One e-mail, fully composed. */
export interface OutgoingMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** Deterministic per notified range: a re-send after a crash carries the same id, so mail clients fold the two. */
  readonly messageId: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface Mailer {
  /** Resolves once the SMTP server accepted the mail; throws {@link MailDeliveryError} otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  /** Closes pooled connections. Safe to call twice. */
  close(): void;
}

/** The SMTP server refused the mail or could not be reached; the job is retried with backoff. */
export class MailDeliveryError extends Error {
  constructor(
    message: string,
    /** The SMTP reply code when the server answered (4xx temporary, 5xx permanent). */
    readonly responseCode: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "MailDeliveryError";
  }
}

export interface SmtpMailerOptions {
  /** smtp:// or smtps:// URL, credentials included when the server needs them. */
  readonly smtpUrl: string;
  /** The From header, e.g. `Parley <no-reply@parley.local>`. */
  readonly from: string;
}

/** Sends through nodemailer's pooled SMTP transport. */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter<SMTPPool.SentMessageInfo, SMTPPool.Options>;
  private closed = false;

  constructor(private readonly options: SmtpMailerOptions) {
    this.transport = nodemailer.createTransport({
      pool: true,
      url: options.smtpUrl,
      maxConnections: 3,
      // A hung server must fail the attempt (and let the retry happen), not hold the job forever.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
  }

  async send(mail: OutgoingMail): Promise<void> {
    try {
      await this.transport.sendMail({
        from: this.options.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        headers: { ...mail.headers },
      });
    } catch (error) {
      const responseCode = typeof error === "object" && error !== null && "responseCode" in error && typeof error.responseCode === "number" ? error.responseCode : undefined;
      const reason = error instanceof Error ? error.message : String(error);
      throw new MailDeliveryError(`SMTP delivery failed: ${reason}`, responseCode, { cause: error });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
  }
}
