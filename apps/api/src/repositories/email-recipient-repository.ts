import type { Database } from "@parley/db";
import { Param, sql } from "drizzle-orm";

/** A (recipient, conversation) pair an offline e-mail may be about. */
export interface EmailPair {
  readonly user_id: string;
  readonly conversation_id: string;
}

/** Who may get offline e-mail (the e-mail scheduler's reads). */
export class EmailRecipientRepository {
  constructor(private readonly database: Database) {}

  /**
   * The pairs whose recipient has an e-mail address and notifications on, in a conversation they still take part in
   * and have not muted. Hand-written, with the pairs as two array parameters: one prepared statement whatever their
   * number (it runs after every published batch of sends).
   */
  async eligible<P extends EmailPair>(pairs: readonly P[]): Promise<P[]> {
    if (pairs.length === 0) return [];
    const rows = await this.database.db.execute<{ conversation_id: string; user_id: string }>(sql`
      SELECT "p"."conversation_id", "p"."user_id"
      FROM unnest(${new Param(pairs.map((pair) => pair.conversation_id))}::uuid[], ${new Param(pairs.map((pair) => pair.user_id))}::text[]) AS "k"("conversation_id", "user_id")
      JOIN "participants" "p" ON "p"."conversation_id" = "k"."conversation_id" AND "p"."user_id" = "k"."user_id"
      JOIN "users" "u" ON "u"."id" = "p"."user_id"
      WHERE "p"."left_at" IS NULL AND NOT "p"."muted" AND "u"."email" IS NOT NULL AND "u"."email" <> '' AND "u"."email_notifications"`);
    const found = new Set(rows.map((row) => `${row.conversation_id}\u0000${row.user_id}`));
    return pairs.filter((pair) => found.has(`${pair.conversation_id}\u0000${pair.user_id}`));
  }
}
