import { sql } from "drizzle-orm";
import { check, index, jsonb, pgTable, primaryKey, text, uuid } from "drizzle-orm/pg-core";
import { id, timestamptz, userId } from "./columns";
import { ownedByUser } from "./users";

/** One user blocking another: no direct conversation, typing, presence or e-mail between them. */
export const blocks = pgTable(
  "blocks",
  {
    blockerId: ownedByUser("blocker_id"),
    blockedId: ownedByUser("blocked_id"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (table) => [primaryKey({ name: "blocks_pkey", columns: [table.blockerId, table.blockedId] }), index("blocks_blocked_id_idx").on(table.blockedId)],
);

export const reportStatuses = ["open", "resolved"] as const;

/** A user's report of a message or a user; the message is copied so evidence survives edits and deletion. */
export const reports = pgTable(
  "reports",
  {
    id: id(),
    reporterId: userId("reporter_id").notNull(),
    /** No foreign keys: the report outlives the message (purge, erasure) and the user. */
    messageId: uuid("message_id"),
    conversationId: uuid("conversation_id"),
    userId: userId("user_id"),
    reason: text("reason").notNull(),
    messageSnapshot: jsonb("message_snapshot"),
    status: text("status", { enum: reportStatuses }).notNull().default("open"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    resolvedAt: timestamptz("resolved_at"),
    resolvedBy: userId("resolved_by"),
    resolution: text("resolution"),
  },
  (table) => [
    index("reports_status_created_idx").on(table.status, table.createdAt),
    index("reports_user_id_idx").on(table.userId),
    check("reports_status_check", sql`${table.status} IN ('open', 'resolved')`),
    check("reports_target_check", sql`${table.messageId} IS NOT NULL OR ${table.userId} IS NOT NULL`),
  ],
);

/** Append-only record of moderator, admin and service-token actions; the API never updates or deletes a row. */
export const auditLog = pgTable(
  "audit_log",
  {
    id: id(),
    at: timestamptz("at").notNull().defaultNow(),
    actorId: userId("actor_id").notNull(),
    actorRole: text("actor_role").notNull(),
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
  },
  (table) => [index("audit_log_at_idx").on(table.at), index("audit_log_actor_idx").on(table.actorId, table.at), index("audit_log_target_idx").on(table.targetId, table.at)],
);

/** Pending e-mail confirmations: only a hash of the token is stored. */
export const emailConfirmations = pgTable(
  "email_confirmations",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: ownedByUser("user_id"),
    email: text("email").notNull(),
    expiresAt: timestamptz("expires_at").notNull(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (table) => [index("email_confirmations_user_id_idx").on(table.userId)],
);
