import { confirmEmailJobData } from "@parley/bus";
import { schema, type Database } from "@parley/db";
import type { Logger } from "@parley/observability";
import { UnrecoverableError, type Job } from "bullmq";
import { and, eq, isNull } from "drizzle-orm";
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "@parley/config";
import { escapeHtml } from "../email/email-composer";
import type { Mailer } from "../email/mailer";

export interface ConfirmationJobDeps {
  readonly database: Database;
  readonly mailer: Mailer;
  readonly clock: Clock;
  readonly logger: Logger;
  /** PUBLIC_APP_URL: the link is `${PUBLIC_APP_URL}/confirm-email?token=<token>`. */
  readonly publicAppUrl: string;
  readonly messageIdDomain: string;
}

export type ConfirmationOutcome = { status: "sent" } | { status: "skipped"; reason: "address_changed" | "already_confirmed" | "expired" };

/**
 * Mails the confirmation link of a new address. The token is made here and only its hash is stored, so the
 * secret exists only in the mail; a retry makes a new token (the old one, never delivered, is harmless).
 */
export function confirmationProcessor(deps: ConfirmationJobDeps): (job: Job) => Promise<ConfirmationOutcome> {
  return async (job) => {
    const parsed = confirmEmailJobData.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError("invalid confirmation job data");
    const data = parsed.data;
    const expiresAt = new Date(data.expires_at);
    if (expiresAt <= deps.clock.now()) return { status: "skipped", reason: "expired" };
    const u = schema.users;
    const [user] = await deps.database.db
      .select({ email: u.email, confirmedAt: u.emailConfirmedAt, name: u.displayName })
      .from(u)
      .where(and(eq(u.id, data.user_id), isNull(u.erasedAt)))
      .limit(1);
    if (user?.email !== data.email) return { status: "skipped", reason: "address_changed" };
    if (user.confirmedAt !== null) return { status: "skipped", reason: "already_confirmed" };

    const token = randomBytes(32).toString("base64url");
    const tokenHash = createHash("sha256").update(token).digest("hex");
    await deps.database.db.insert(schema.emailConfirmations).values({ tokenHash, userId: data.user_id, email: data.email, expiresAt, createdAt: deps.clock.now() });
    const link = `${deps.publicAppUrl.replace(/\/+$/, "")}/confirm-email?token=${token}`;
    const until = expiresAt.toISOString();
    const text = [`Please confirm this address for your account (${user.name}).`, "", `Confirm: ${link}`, "", `The link works once, until ${until}.`, "If you did not ask for this, ignore this e-mail.", ""].join("\n");
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Confirm your e-mail address</title></head>
<body style="font-family:system-ui,sans-serif;font-size:15px;line-height:1.4;color:#222">
<p>Please confirm this address for your account (${escapeHtml(user.name)}).</p>
<p><a href="${escapeHtml(link)}">Confirm my address</a></p>
<p style="font-size:12px;color:#666">The link works once, until ${escapeHtml(until)}. If you did not ask for this, ignore this e-mail.</p>
</body></html>
`;
    await deps.mailer.send({
      to: data.email,
      subject: "Confirm your e-mail address",
      text,
      html,
      messageId: `<confirm-${tokenHash.slice(0, 24)}@${deps.messageIdDomain}>`,
      headers: { "Auto-Submitted": "auto-generated" },
    });
    deps.logger.info({ user_id: data.user_id }, "confirmation e-mail sent");
    return { status: "sent" };
  };
}
