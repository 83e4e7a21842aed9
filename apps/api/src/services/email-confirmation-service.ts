import { CONFIRM_EMAIL_JOB_NAME, confirmEmailJobOptions, type ConfirmEmailJobData } from "@parley/bus";
import type { Clock } from "@parley/config";
import { schema, type Database } from "@parley/db";
import { ParleyError } from "@parley/protocol";
import { and, eq, gt } from "drizzle-orm";
import { createHash } from "node:crypto";
import type { UserRow } from "../repositories/user-repository";

/** What the service needs of the worker's account-mail queue (a BullMQ Queue fits). */
export interface ConfirmationQueue {
  add(name: typeof CONFIRM_EMAIL_JOB_NAME, data: ConfirmEmailJobData, options: typeof confirmEmailJobOptions): Promise<unknown>;
}

export interface EmailConfirmationServiceDeps {
  readonly database: Database;
  readonly queue: ConfirmationQueue;
  /** EMAIL_CONFIRMATION. */
  readonly mode: "required" | "off";
  /** EMAIL_CONFIRMATION_TTL, in ms. */
  readonly ttlMs: number;
  readonly clock: Clock;
}

/** The stored form of a confirmation token: only its hash is kept, like a password. */
export function confirmationTokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * EMAIL_CONFIRMATION: an address set through the API is used for notifications only once its owner followed the
 * link mailed to it. The worker makes the token and sends the mail; this side asks for it and checks the answer.
 */
export class EmailConfirmationService {
  constructor(private readonly deps: EmailConfirmationServiceDeps) {}

  /** email_confirmed_at for a newly set address: now when confirmation is off or someone trusted vouches for it. */
  confirmedAtFor(email: string | null, vouched: boolean): Date | null {
    if (email === null) return null;
    return this.deps.mode === "off" || vouched ? this.deps.clock.now() : null;
  }

  /** Mails a confirmation link when the user's address still needs one. */
  async requestIfNeeded(row: UserRow): Promise<void> {
    if (this.deps.mode === "off" || row.email === null || row.emailConfirmedAt !== null) return;
    const expiresAt = new Date(this.deps.clock.now().getTime() + this.deps.ttlMs).toISOString();
    await this.deps.queue.add(CONFIRM_EMAIL_JOB_NAME, { user_id: row.id, email: row.email, expires_at: expiresAt }, confirmEmailJobOptions);
  }

  /** Confirms the address the token was sent to, if it is still the user's address; the token works once. */
  async confirm(token: string): Promise<{ email_confirmed: true }> {
    const c = schema.emailConfirmations;
    const u = schema.users;
    const now = this.deps.clock.now();
    const confirmed = await this.deps.database.db.transaction(async (tx) => {
      const [pending] = await tx
        .select()
        .from(c)
        .where(and(eq(c.tokenHash, confirmationTokenHash(token)), gt(c.expiresAt, now)))
        .for("update")
        .limit(1);
      if (!pending) return false;
      const updated = await tx
        .update(u)
        .set({ emailConfirmedAt: now })
        .where(and(eq(u.id, pending.userId), eq(u.email, pending.email)))
        .returning({ id: u.id });
      await tx.delete(c).where(eq(c.userId, pending.userId));
      return updated.length > 0;
    });
    if (!confirmed) throw new ParleyError("confirmation_invalid");
    return { email_confirmed: true };
  }
}
